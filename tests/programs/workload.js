// node workload: V8 keeps JS objects in its own heap, so this reaches malloc where node does:
// Buffers (their backing stores) of every size class, small to large (8 KiB .. 2 MiB) to huge
// (> 2 MiB); zlib's state and output; strings turned into UTF-8 by node's C++ side (its
// MaybeStackBuffer grows with realloc: large and huge reallocs); ICU (normalisation, locale case
// mapping, collation); and two worker threads (their isolates, and ArrayBuffers passed between
// threads). Prints a deterministic digest.
'use strict';
const crypto = require('crypto');
const zlib = require('zlib');
const { Worker } = require('worker_threads');

const digest = crypto.createHash('sha256');
function short(s) {
  return crypto.createHash('sha256').update(s).digest('hex').slice(0, 16);
}
function feed(label, value) {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  digest.update(label + '=' + s + '\n');
  console.log(label, s.length < 80 ? s : short(s));
}

// ICU on a 2 MiB string
const parts = [];
for (let i = 0; i < 200000; i++) parts.push('\u00e9l\u00e8ve' + (i % 977) + 'I\u0131');
const big = parts.join(' ');
feed('big.len', big.length);
feed('nfd.len', big.normalize('NFD').length);
feed('nfc.same', big.normalize('NFD').normalize('NFC') === big);
feed('tr.upper', short(big.toLocaleUpperCase('tr')));
feed('collate', ['b', '\u00e9', 'a', 'z', 'e', '\u00e8'].sort(new Intl.Collator('fr').compare).join(''));

// Buffers of every size class, some kept, filled and summed
let total = 0;
let sum = 0;
const kept = [];
for (let i = 0; i < 400; i++) {
  const n = (i * 7919) % (3 << 20) + 1;
  const b = Buffer.alloc(n, i & 255);
  b[n >> 1] = (b[n >> 1] + 1) & 255;
  total += b.length;
  sum = (sum + b[n >> 1] + b[n - 1]) % 65521;
  if (i % 3 === 0) kept.push(b);
}
feed('buffers', [total, sum, kept.length, short(Buffer.concat(kept.slice(0, 20)))]);

// UTF-8 conversions in C++ of growing strings (realloc of node's conversion buffers)
const sizes = [];
for (const n of [3000, 20000, 100000, 400000, 1000000, 3000000]) {
  const s = 'x\u00e9\u4e2d'.repeat(n);
  sizes.push([n, Buffer.byteLength(s), crypto.createHash('sha256').update(s, 'utf8').digest('hex').slice(0, 12)]);
}
feed('utf8', sizes);

// zlib round trips of a few MiB
const raw = Buffer.from(big);
const gz = zlib.gzipSync(raw, { level: 6 });
feed('gzip', [raw.length, zlib.gunzipSync(gz).equals(raw)]);
feed('deflate', zlib.inflateRawSync(zlib.deflateRawSync(raw, { level: 1 })).length);

// JSON of nested objects
const doc = { users: [] };
for (let i = 0; i < 50000; i++) doc.users.push({ id: i, name: 'user' + i, tags: parts.slice(i % 100, i % 100 + (i % 5)) });
const enc = JSON.stringify(doc);
feed('json', [enc.length, JSON.stringify(JSON.parse(enc)) === enc]);

// Map churn
const m = new Map();
for (let i = 0; i < 300000; i++) {
  m.set('k' + (i % 50000), 'v' + i);
  if (i % 3 === 0) m.delete('k' + ((i >> 1) % 50000));
}
feed('map', m.size);

// two workers: each builds Buffers and sends them back (transferred ArrayBuffers)
const src = `
const { parentPort, workerData } = require('worker_threads');
const crypto = require('crypto');
const out = [];
for (let i = 0; i < 60; i++) {
  const n = ((i + 1) * 104729 * (workerData + 1)) % (5 << 20) + 1;
  const b = Buffer.alloc(n, (i + workerData) & 255);
  out.push(crypto.createHash('sha1').update(b).digest('hex').slice(0, 8));
}
const ab = new Uint8Array(3 << 20).fill(7 + workerData);
parentPort.postMessage({ out, ab }, [ab.buffer]);
`;
let pending = 2;
const results = [];
for (let w = 0; w < 2; w++) {
  const worker = new Worker(src, { eval: true, workerData: w });
  worker.on('message', (msg) => {
    results[w] = [msg.out.join(','), msg.ab.length, msg.ab[12345]];
  });
  worker.on('exit', (code) => {
    if (code !== 0) throw new Error('worker ' + w + ' exited with ' + code);
    if (--pending === 0) {
      feed('workers', results.map((r) => [short(r[0]), r[1], r[2]]));
      console.log('digest', digest.digest('hex'));
    }
  });
}
