// Run inside a test network namespace: broadcasts one Raspberry Pi style DHCPDISCOVER and prints the replies
// that arrive (until shortly after the first, or the time limit) as JSON lines. Usage: dhcp-probe.ts <mac> <timeout-ms>
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { buildDiscover, parseReply } from './dhcp.packet.js';

const [mac = 'dc:a6:32:01:02:03', timeoutText = '5000'] = process.argv.slice(2);
const xid = randomInt(1, 0xffffffff);
const socket = createSocket({ type: 'udp4', reuseAddr: true });
let closed = false;
const finish = () => { if (!closed) { closed = true; socket.close(); } };
const timer = setTimeout(finish, Number(timeoutText));
socket.on('message', (message) => {
  const reply = parseReply(message);
  if (reply && reply.xid === xid) {
    process.stdout.write(`${JSON.stringify(reply)}\n`);
    // Stop shortly after the first answer; a second server's answer would arrive within this.
    setTimeout(finish, 300).unref();
  }
});
socket.on('close', () => clearTimeout(timer));
socket.bind(68, '0.0.0.0', () => {
  socket.setBroadcast(true);
  socket.send(buildDiscover({ xid, mac }), 67, '255.255.255.255');
});
