// Serves the bare repositories under ROOT over git's smart HTTP protocol on 127.0.0.1, so the real
// actions/checkout (which fetches from $GITHUB_SERVER_URL/OWNER/NAME) can run under act with no forge.
// `git http-backend` speaks the protocol; this only bridges HTTP requests to it as CGI. It writes its
// port to PORTFILE once it listens, and ends when its parent (scripts/act.sh) is gone.
//
//   node tools/act/git-http.js ROOT PORTFILE
"use strict";
const fs = require("node:fs");
const http = require("node:http");
const { spawn } = require("node:child_process");

const [root, portFile] = process.argv.slice(2);
if (!root || !portFile || !fs.statSync(root, { throwIfNoEntry: false })?.isDirectory()) {
  process.stderr.write("git-http: usage: node git-http.js ROOT PORTFILE (ROOT: a directory of bare repositories)\n");
  process.exit(2);
}

function backend(req, res) {
  const url = new URL(req.url, "http://127.0.0.1");
  const cgi = spawn("git", ["http-backend"], {
    stdio: ["pipe", "pipe", "inherit"],
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      GATEWAY_INTERFACE: "CGI/1.1",
      REQUEST_METHOD: req.method,
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      // git compresses large requests; http-backend inflates them itself when told.
      HTTP_CONTENT_ENCODING: req.headers["content-encoding"] ?? "",
      GIT_PROTOCOL: req.headers["git-protocol"] ?? "",
      REMOTE_ADDR: "127.0.0.1",
    },
  });
  req.pipe(cgi.stdin);
  let head = Buffer.alloc(0);
  let started = false;
  cgi.stdout.on("data", (chunk) => {
    if (started) return void res.write(chunk);
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) return;
    started = true;
    for (const line of head.subarray(0, end).toString().split("\r\n")) {
      const i = line.indexOf(":");
      const [name, value] = [line.slice(0, i).trim(), line.slice(i + 1).trim()];
      if (name.toLowerCase() === "status") res.statusCode = parseInt(value, 10);
      else res.setHeader(name, value);
    }
    res.write(head.subarray(end + 4));
  });
  cgi.on("close", (code) => {
    if (!started) res.statusCode = 500;
    res.end();
    if (code !== 0) process.stderr.write(`git-http: git http-backend exited ${code} for ${req.method} ${url.pathname}\n`);
  });
}

const server = http.createServer(backend);
server.listen(0, "127.0.0.1", () => fs.writeFileSync(portFile, `${server.address().port}\n`));
// No server outlives the run that started it, even one killed before it could clean up.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && process.exit(0), 1000).unref();
