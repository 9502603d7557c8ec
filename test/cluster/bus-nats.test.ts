/** The NATS bus passes the same Bus contract as the in-process one. Needs NATS (NATS_URL). */
import { NatsBus } from '../../src/bus/nats.ts';
import { busContract } from '../helpers/bus-contract.ts';

const url = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
let n = 0;
busContract('NATS', async (bounds) => {
  const [a, b] = await Promise.all([NatsBus.connect(url, 'contract-a', bounds), NatsBus.connect(url, 'contract-b', bounds)]);
  return { a, b, ns: `contract${process.pid}x${++n}`, close: async () => void (await Promise.all([a.close(), b.close()])) };
});
