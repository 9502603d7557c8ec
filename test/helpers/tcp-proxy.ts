/** A TCP proxy the test can cut and restore, to take a dependency "down" without stopping it. */
import net from 'node:net';

export class TcpProxy {
  private server: net.Server;
  private sockets = new Set<net.Socket>();
  private up = true;
  port = 0;

  constructor(private readonly target: { host?: string; port?: number; path?: string }) {
    this.server = net.createServer((client) => {
      if (!this.up) return void client.destroy();
      const upstream = target.path ? net.connect(target.path) : net.connect(target.port!, target.host ?? '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  listen(): Promise<this> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => {
      this.port = (this.server.address() as net.AddressInfo).port;
      resolve(this);
    }));
  }

  /** Drops every connection and refuses new ones. */
  cut(): void {
    this.up = false;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.up = true;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
