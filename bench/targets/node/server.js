// The front page's fan-out on Node.js, the peer of the `uv` model: libuv under a JavaScript
// runtime. GET /<ms>/ (GET / is /300/) calls the country API's /<ms>/, /<2ms>/ and /<ms/2>/ at
// once through one keep-alive http.Agent, and renders the first call's country and the fan-out's
// duration; 504 when a call times out, 502 when one fails. Standard library only.
//
//   node server.js PORT UPSTREAM[,UPSTREAM...] [PROCS]
//
// UPSTREAM is the API's base URL (http://127.0.0.1:PORT); with several, the pages take them in
// turn. PROCS > 1 runs a cluster of that many processes sharing the port, as pm2's cluster mode
// does in production. SIGTERM stops it (the primary first stops its workers).
'use strict';
const cluster = require('node:cluster');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const [port, upstream, procs = '1'] = process.argv.slice(2);
const TIMEOUT_MS = 30000;
const bases = (upstream || '').split(',').filter(Boolean).map((u) => new URL(u));
if (!/^\d+$/.test(port || '') || bases.length === 0 || !/^[1-9]\d*$/.test(procs)) {
  console.error('usage: node server.js PORT UPSTREAM[,UPSTREAM...] [PROCS]');
  process.exit(2);
}
// Node keeps only 256 idle sockets a host by default: a page's three calls from thousands of
// users need them all kept.
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity });

class CallError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// One call: resolves to the country's name, rejects with a CallError (502 or 504).
function call(base, ms) {
  return new Promise((resolve, reject) => {
    const options = { host: base.hostname, port: base.port, path: `/${ms}/`, agent, timeout: TIMEOUT_MS };
    const req = http.get(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('error', (err) => reject(new CallError(502, `upstream /${ms}/: ${err.message}`)));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new CallError(502, `upstream /${ms}/: status ${res.statusCode}`));
        try {
          resolve(String(JSON.parse(body).name));
        } catch (err) {
          reject(new CallError(502, `upstream /${ms}/: bad answer: ${err.message}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new CallError(504, `upstream /${ms}/: timed out after ${TIMEOUT_MS} ms`)));
    req.on('error', (err) => reject(err instanceof CallError ? err : new CallError(502, `upstream /${ms}/: ${err.message}`)));
  });
}

const escapes = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escape = (s) => s.replace(/[&<>"']/g, (c) => escapes[c]);

// The page, shared by the peers (the model's is src/page.c): {{.Name}} and {{.Seconds}} filled in.
const html = fs.readFileSync(path.join(__dirname, '..', 'page.html'), 'utf8');
const render = (name, seconds) =>
  html.replace('{{.Name}}', () => escape(name)).replace('{{.Seconds}}', seconds.toFixed(3));

function answer(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

let turn = 0;
async function page(req, res) {
  const m = /^\/(?:(\d{1,5})\/?)?(?:\?.*)?$/.exec(req.url);
  const ms = m && (m[1] === undefined ? 300 : Number(m[1]));
  if (ms === null || ms > 60000) return answer(res, 404, 'text/plain', 'not found\n');
  const base = bases[turn++ % bases.length];
  const start = process.hrtime.bigint();
  try {
    const [name] = await Promise.all([call(base, ms), call(base, 2 * ms), call(base, ms >> 1)]);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    answer(res, 200, 'text/html; charset=utf-8', render(name, seconds));
  } catch (err) {
    answer(res, err.status || 502, 'text/plain', `${err.message}\n`);
  }
}

if (Number(procs) > 1 && cluster.isPrimary) {
  for (let i = 0; i < Number(procs); i++) cluster.fork();
  let stopping = false;
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) console.error(`worker ${worker.process.pid} ended (${signal || code})`);
    else if (Object.keys(cluster.workers).length === 0) process.exit(0);
  });
  // The primary leaves last, once every worker has ended (and been reaped).
  process.on('SIGTERM', () => {
    stopping = true;
    const workers = Object.values(cluster.workers);
    if (workers.length === 0) process.exit(0);
    for (const worker of workers) worker.process.kill('SIGTERM');
  });
  console.log(`listening on 127.0.0.1:${port} (${procs} processes)`);
} else {
  const server = http.createServer(page);
  server.keepAliveTimeout = 60000; // the load's users keep their connection between pages
  server.listen(Number(port), '127.0.0.1', 4096, () => {
    if (cluster.isPrimary) console.log(`listening on 127.0.0.1:${server.address().port}`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
}
