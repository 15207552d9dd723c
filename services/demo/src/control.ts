/** `npm run demo:fail [-- stopped|hanging|erroring]` and `npm run demo:recover`. */
const CONTROL = 'http://127.0.0.1:8089';

const [command, arg] = process.argv.slice(2);
const mode = command === 'recover' ? 'up' : command === 'fail' ? (arg ?? 'stopped') : undefined;
if (!mode) {
  process.stderr.write('usage: control.js fail [stopped|hanging|erroring] | recover\n');
  process.exit(2);
}
try {
  const res = await fetch(`${CONTROL}/primary/${mode}`, { method: 'POST' });
  process.stdout.write(`${await res.text()}\n`);
  process.exit(res.ok ? 0 : 1);
} catch {
  process.stderr.write(`cannot reach the demo at ${CONTROL}: is \`npm start\` running?\n`);
  process.exit(1);
}
