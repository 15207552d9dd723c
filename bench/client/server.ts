/**
 * The bench's HTTP server, run as its own process: keep-alive, a canned 200 for every request
 * (GET without a body). It reads only the end of each request's head, so that it costs far less
 * per request than the client under test and the client, not the server, sets the pace.
 * Prints its port on stdout.
 */
import { createServer } from 'node:net';

const BODY = '{"side":"primary"}';
const RESPONSE = Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${BODY.length}\r\nkeep-alive: timeout=60\r\n\r\n${BODY}`);
const END = Buffer.from('\r\n\r\n');

const server = createServer((socket) => {
  socket.setNoDelay(true);
  let tail = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    const data = tail.length > 0 ? Buffer.concat([tail, chunk]) : chunk;
    let from = 0;
    let answers = 0;
    for (;;) {
      const at = data.indexOf(END, from);
      if (at < 0) break;
      answers += 1;
      from = at + END.length;
    }
    tail = from < data.length ? Buffer.from(data.subarray(from)) : Buffer.alloc(0);
    if (answers === 1) socket.write(RESPONSE);
    else if (answers > 1) socket.write(Buffer.concat(Array.from({ length: answers }, () => RESPONSE)));
  });
  socket.on('error', () => undefined);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => process.exit(0));
