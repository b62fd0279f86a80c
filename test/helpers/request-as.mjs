// Makes one HTTP request over a Unix socket and prints {status, body} as JSON: run under
// `setpriv --reuid … --regid …` so the daemon sees another peer uid.
import { request } from 'node:http';

const [socketPath, method, path, body] = process.argv.slice(2);
const headers = body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {};
const req = request({ socketPath, method, path, headers, timeout: 10_000 }, (res) => {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (c) => (text += c));
  res.on('end', () => {
    process.stdout.write(JSON.stringify({ status: res.statusCode, body: text }));
  });
});
req.on('error', (err) => {
  process.stdout.write(JSON.stringify({ status: 0, error: err.code ?? err.message }));
});
if (body) req.write(body);
req.end();
