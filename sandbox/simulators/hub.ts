// One loopback endpoint for every vendor simulator, as AWS_ENDPOINT_URL is for every AWS
// service: `http://127.0.0.1:PORT/<vendor host>/<path>` is passed on, unchanged, to the
// simulator registered for that host. keyturn's HTTP layer sends every vendor there when
// its endpoint override (KEYTURN_VENDOR_ENDPOINT) is set.
//
// The hub streams both ways and mirrors a dropped connection, so the simulators' faults
// (slow drips, cut connections) reach the client as they would directly.

import { createServer, request as forward, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface VendorHub {
  /** `http://127.0.0.1:PORT`: the vendor endpoint override. */
  url: string;
  close(): Promise<void>;
}

/** `routes` maps a vendor host (e.g. "na.api.immutacloud.com") to a simulator's `url`. */
export async function startVendorHub(routes: Record<string, string>): Promise<VendorHub> {
  const sockets = new Set<Socket>();
  const notFound = (res: ServerResponse, host: string) => {
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: `no simulator for host "${host}"`, hosts: Object.keys(routes) }));
  };
  const server = createServer((req, res) => {
    const host = (req.url ?? "/").split("/")[1] ?? "";
    const upstream = routes[host];
    if (!upstream) return notFound(res, host);
    const target = new URL(req.url ?? "/", upstream);
    const outgoing = forward(
      target,
      { method: req.method, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on("error", () => res.destroy());
        answer.on("aborted", () => res.destroy());
      },
    );
    outgoing.on("error", () => res.destroy());
    req.pipe(outgoing);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
