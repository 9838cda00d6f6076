// An HTTP GET to 127.0.0.1 of a network namespace, over a socket the addon makes inside it:
// no link between the host and the namespace is needed. The lab, the benchmarks and the
// tests read the agent's API this way.
import { request } from 'node:http';
import { connect } from '../bgp/transport/index.js';

export async function nsHttpGet(ns: string, port: number, path: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  const { socket } = await connect({ peer: { address: '127.0.0.1', family: 4, password: undefined, ttlSecurity: 0, multihop: 0, ibgp: true }, port, timeoutMs, netns: `/var/run/netns/${ns}` });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`GET ${path}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const req = request({ createConnection: () => socket, path, method: 'GET', headers: { connection: 'close', host: '127.0.0.1' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end();
  });
}
