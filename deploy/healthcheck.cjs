// The image's health check: GET /healthz on this container's own port (PORT, default 3000), over HTTPS
// when TLS_CERT_PATH is set. The certificate is not verified here: the check talks to its own process
// over loopback and sends no secret, and a certificate for the public name would not match 127.0.0.1.
/* global process, require */
const port = Number(process.env.PORT || 3000);
const tls = Boolean(process.env.TLS_CERT_PATH);
// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain CommonJS: runs without tsx, in a second
const client = require(tls ? 'node:https' : 'node:http');
const req = client.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 4000, rejectUnauthorized: false }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
