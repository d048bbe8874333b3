// auth-proxy.js — loopback-only reverse proxy that adds the server's API key to every request.
//
// usage: node auth-proxy.js UPSTREAM_PORT   (API key in $SCS_API_KEY; prints "listening PORT" on stdout)
//
// Why: the conformance suite (`conformance server --url`) cannot send custom headers, and our /mcp
// answers 401 without X-API-Key or a bearer token. This proxy listens on 127.0.0.1 only, forwards
// method, path, body and every header unchanged (Host and Origin included, so the server's own DNS
// rebinding guard is what the suite judges), adds `X-API-Key`, and streams the answer back byte for
// byte (SSE streams stay open as long as the client keeps them). Nothing else is changed.
'use strict';
const http = require('http');

const upstreamPort = Number(process.argv[2]);
const key = process.env.SCS_API_KEY || '';
if (!upstreamPort || !key) {
  console.error('usage: SCS_API_KEY=... node auth-proxy.js UPSTREAM_PORT');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true });

const server = http.createServer((req, res) => {
  const headers = { ...req.headers, 'x-api-key': key };
  const up = http.request(
    { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers, agent },
    (upRes) => {
      res.writeHead(upRes.statusCode, upRes.statusMessage, upRes.rawHeaders);
      res.flushHeaders();
      upRes.pipe(res);
    },
  );
  up.on('error', (e) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`auth-proxy: upstream error: ${e.message}`);
    } else {
      res.destroy();
    }
  });
  res.on('close', () => up.destroy());
  req.pipe(up);
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
