// functions/http/transport.ts loads two files inside undici rather than its entry. Those paths
// are undici's internal layout, so these tests pin them to the installed undici: each must be
// the very object the package entry exports, or an upgrade that moved them fails here.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as undici from "undici";
import request from "undici/lib/api/api-request.js";
import Agent from "undici/lib/dispatcher/agent.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { sendRequest, sharedAgent } from "#http/transport.ts";

describe("the undici files the vendor client loads", () => {
  test("lib/dispatcher/agent.js is the entry's Agent, and the shared agent one of it, made once", () => {
    expect(Agent).toBe(undici.Agent);
    expect(sharedAgent()).toBeInstanceOf(undici.Agent);
    expect(sharedAgent()).toBe(sharedAgent());
  });

  test("lib/api/api-request.js is the request API the entry puts on every dispatcher", () => {
    expect(undici.Dispatcher.prototype.request).toBe(request);
    expect(new undici.Agent().request).toBe(request);
  });
});

describe("sendRequest", () => {
  let server: Server;
  let origin: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`${req.method} ${req.url}`);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test("sends through the dispatcher it is given, a real Agent over loopback", async () => {
    const agent = new undici.Agent();
    try {
      const response = await sendRequest(agent, { origin, path: "/ping?x=1", method: "GET" });
      expect(response.statusCode).toBe(200);
      expect(await response.body.text()).toBe("GET /ping?x=1");
    } finally {
      await agent.close();
    }
  });
});
