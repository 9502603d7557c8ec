/** The in-process bus passes the shared Bus contract, locally and across a thread port. */
import { MessageChannel } from 'node:worker_threads';
import { InprocHub, PortBus } from '../../src/bus/inproc.ts';
import { busContract } from '../helpers/bus-contract.ts';

let n = 0;
busContract('in-process, same thread', async (bounds) => {
  const hub = new InprocHub(bounds);
  return { a: hub.local('a'), b: hub.local('b'), ns: `t${++n}`, close: async () => {} };
});

busContract('in-process, across a MessagePort', async (bounds) => {
  const hub = new InprocHub(bounds);
  const { port1, port2 } = new MessageChannel();
  hub.attach(port1);
  const b = new PortBus(port2, 'b', bounds);
  // Listening refs a port; unref both so the test process can exit.
  port1.unref();
  port2.unref();
  return { a: hub.local('a'), b, ns: `t${++n}`, close: async () => {} };
});
