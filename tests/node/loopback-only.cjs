// Preload (NODE_OPTIONS="--require <this file>") that makes every net/http server in the
// process bind 127.0.0.1 when the code asked for "all interfaces" (no host, 0.0.0.0 or ::).
// supergateway and server-everything's HTTP modes have no --host flag; tests must bind
// loopback only.
"use strict";
const net = require("net");
const orig = net.Server.prototype.listen;
const ANY = new Set([undefined, null, "", "0.0.0.0", "::", "::0"]);
net.Server.prototype.listen = function (...args) {
  const a0 = args[0];
  if (a0 !== null && typeof a0 === "object" && !Array.isArray(a0) && !(a0 instanceof net.Server) && a0.path === undefined && a0.fd === undefined && a0._handle === undefined && a0.handle === undefined) {
    if (ANY.has(a0.host)) args[0] = { ...a0, host: "127.0.0.1" };
  } else if (typeof a0 === "number" || (typeof a0 === "string" && /^\d+$/.test(a0))) {
    if (typeof args[1] !== "string" || ANY.has(args[1])) {
      if (typeof args[1] === "string" || args[1] === undefined || args[1] === null) args[1] = "127.0.0.1";
      else args.splice(1, 0, "127.0.0.1");
    }
  }
  return orig.apply(this, args);
};
