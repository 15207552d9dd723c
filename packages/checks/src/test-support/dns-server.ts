import { createSocket } from 'node:dgram';

/** Records a test DNS server answers, by "name TYPE" (A, AAAA, CNAME, SRV as "target:port"). */
export type Zone = Record<string, string[]>;

const TYPES: Record<number, string> = { 1: 'A', 5: 'CNAME', 28: 'AAAA', 33: 'SRV' };

/** A DNS server on 127.0.0.1 (UDP) that answers from `zone`, NXDOMAIN otherwise; `silent` never answers. */
export async function startDnsServer(zone: Zone, silent = false): Promise<{ address: string; close(): Promise<void> }> {
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    if (silent) return;
    let offset = 12;
    const labels: string[] = [];
    while (query[offset]! > 0) {
      labels.push(query.toString('ascii', offset + 1, offset + 1 + query[offset]!));
      offset += query[offset]! + 1;
    }
    const questionEnd = offset + 5;
    const type = TYPES[query.readUInt16BE(offset + 1)] ?? '?';
    const answers = zone[`${labels.join('.')} ${type}`] ?? [];
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(answers.length > 0 ? 0x8180 : 0x8183, 2); // response, recursion; NXDOMAIN when empty
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const records = answers.map((answer) => {
      const data = rdata(type, answer);
      const record = Buffer.alloc(12);
      record.writeUInt16BE(0xc00c, 0); // name: pointer to the question
      record.writeUInt16BE(query.readUInt16BE(offset + 1), 2);
      record.writeUInt16BE(1, 4); // class IN
      record.writeUInt32BE(60, 6); // TTL
      record.writeUInt16BE(data.length, 10);
      return Buffer.concat([record, data]);
    });
    socket.send(Buffer.concat([header, query.subarray(12, questionEnd), ...records]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function name(text: string): Buffer {
  return Buffer.concat([...text.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
}

function rdata(type: string, answer: string): Buffer {
  switch (type) {
    case 'A':
      return Buffer.from(answer.split('.').map(Number));
    case 'AAAA': {
      const [head = '', tail = ''] = answer.split('::');
      const left = head ? head.split(':') : [];
      const right = tail ? tail.split(':') : [];
      const groups = answer.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
      const out = Buffer.alloc(16);
      groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
      return out;
    }
    case 'SRV': {
      const [target = '', port = '0'] = answer.split(':');
      const fixed = Buffer.alloc(6);
      fixed.writeUInt16BE(10, 0); // priority
      fixed.writeUInt16BE(5, 2); // weight
      fixed.writeUInt16BE(Number(port), 4);
      return Buffer.concat([fixed, name(target)]);
    }
    default:
      return name(answer);
  }
}
