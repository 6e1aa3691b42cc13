import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { ProcfsPoller, parseProcNetTcp } from './procfs.js';
import type { KestrelEvent } from './events.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('procfs', () => {
  it('decodes /proc/net/tcp and tcp6 lines', () => {
    const v4 = parseProcNetTcp(
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
        '   0: 0100007F:1F90 0100007F:D2F7 01 00000000:00000000 00:00000000 00000000     0        0 12345 1 0 20 4 30 10 -1\n',
      'inet',
    );
    expect(v4).toEqual([{ local: '127.0.0.1', localPort: 8080, remote: '127.0.0.1', remotePort: 54007, state: 1, inode: 12345, family: 'inet' }]);
    const v6 = parseProcNetTcp(
      'header\n   0: 00000000000000000000000001000000:1F90 B80D0120000000000000000001000000:01BB 02 0:0 0:0 0 0 0 777 1\n',
      'inet6',
    );
    expect(v6[0]).toMatchObject({ local: '::1', remote: '2001:db8::1', remotePort: 443, state: 2, inode: 777 });
    const mapped = parseProcNetTcp('h\n   0: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF0000040302C6:0050 01 0:0 0:0 0 0 0 9 1\n', 'inet6');
    expect(mapped[0]).toMatchObject({ family: 'inet', local: '127.0.0.1', remote: '198.2.3.4', remotePort: 80 });
  });

  it('sees a process start and end, and its outbound connection', async () => {
    const server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const p = new ProcfsPoller();
    const first = p.poll(1n);
    expect(first.some((e) => e.type === 'exec' && e.synthetic === true && e.pid === process.pid)).toBe(true);
    const child = spawn(process.execPath, ['-e', `const s=require('net').connect(${port},'127.0.0.1'); setTimeout(()=>s.destroy(), 4000)`], { stdio: 'ignore' });
    try {
      let evs: KestrelEvent[] = [];
      for (let i = 0; i < 40; i++) {
        await sleep(50);
        evs = evs.concat(p.poll(2n));
        if (evs.some((e) => e.type === 'connect' && e.pid === child.pid)) break;
      }
      const exec = evs.find((e) => e.type === 'exec' && e.pid === child.pid);
      expect(exec).toMatchObject({ exe: process.execPath, ppid: process.pid });
      expect(exec?.type === 'exec' && exec.synthetic).toBeFalsy();
      expect(evs.find((e) => e.type === 'connect' && e.pid === child.pid)).toMatchObject({ family: 'inet', daddr: '127.0.0.1', dport: port, saddr: '127.0.0.1' });
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      server.close();
    }
    await sleep(20);
    expect(p.poll(3n).some((e) => e.type === 'exit' && e.pid === child.pid)).toBe(true);
  });
});
