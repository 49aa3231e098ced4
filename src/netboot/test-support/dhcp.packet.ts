// DHCP packets as a Raspberry Pi 4/5 bootloader sends them, and the parts of a reply a Pi looks at.
export const RPI_VENDOR_CLASS = 'PXEClient:Arch:00000:UNDI:002001';
const MAGIC_COOKIE = [99, 130, 83, 99];

export interface DiscoverOptions {
  xid: number;
  mac: string;
  vendorClass?: string;
}

/** DHCPDISCOVER with the options the Pi bootloader sends: vendor class, client architecture 0, NII, GUID. */
export function buildDiscover({ xid, mac, vendorClass = RPI_VENDOR_CLASS }: DiscoverOptions): Buffer {
  const packet = Buffer.alloc(240);
  packet[0] = 1; // BOOTREQUEST
  packet[1] = 1; // Ethernet
  packet[2] = 6;
  packet.writeUInt32BE(xid, 4);
  packet.writeUInt16BE(0x8000, 10); // broadcast the answer: the client has no address yet
  Buffer.from(mac.split(':').map((h) => Number.parseInt(h, 16))).copy(packet, 28);
  Buffer.from(MAGIC_COOKIE).copy(packet, 236);
  const option = (code: number, value: Buffer | number[]) => Buffer.from([code, value.length, ...value]);
  return Buffer.concat([
    packet,
    option(53, [1]),
    option(60, Buffer.from(vendorClass)),
    option(93, [0, 0]),
    option(94, [1, 2, 1]),
    option(97, [0, ...Buffer.alloc(16, 0x5a)]),
    option(55, [1, 3, 6, 43, 54, 60, 66, 67, 97]),
    Buffer.from([255]),
  ]);
}

export interface DhcpReply {
  xid: number;
  messageType: number | null;
  yiaddr: string;
  siaddr: string;
  options: Record<number, string>; // hex
  vendorClass: string | null;
  /** Descriptions in the PXE boot menu (option 43, sub-option 9). */
  pxeMenu: string[];
}

const ip = (b: Buffer, at: number) => [...b.subarray(at, at + 4)].join('.');

export function parseReply(packet: Buffer): DhcpReply | null {
  if (packet.length < 240 || packet[0] !== 2 || !packet.subarray(236, 240).equals(Buffer.from(MAGIC_COOKIE))) return null;
  const options: Record<number, Buffer> = {};
  for (let at = 240; at < packet.length;) {
    const code = packet[at]!;
    if (code === 255) break;
    if (code === 0) { at += 1; continue; }
    const length = packet[at + 1]!;
    options[code] = packet.subarray(at + 2, at + 2 + length);
    at += 2 + length;
  }
  const pxeMenu: string[] = [];
  const vendor = options[43];
  if (vendor) {
    for (let at = 0; at < vendor.length;) {
      const code = vendor[at]!;
      if (code === 255) break;
      if (code === 0) { at += 1; continue; }
      const length = vendor[at + 1]!;
      const value = vendor.subarray(at + 2, at + 2 + length);
      if (code === 9) {
        // Boot menu: repeated {type(2), length(1), description}.
        for (let i = 0; i + 3 <= value.length;) {
          const descLength = value[i + 2]!;
          pxeMenu.push(value.toString('latin1', i + 3, i + 3 + descLength));
          i += 3 + descLength;
        }
      }
      at += 2 + length;
    }
  }
  return {
    xid: packet.readUInt32BE(4),
    messageType: options[53]?.[0] ?? null,
    yiaddr: ip(packet, 16),
    siaddr: ip(packet, 20),
    options: Object.fromEntries(Object.entries(options).map(([k, v]) => [Number(k), v.toString('hex')])),
    vendorClass: options[60]?.toString('latin1') ?? null,
    pxeMenu,
  };
}
