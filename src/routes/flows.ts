/**
 * GET /v1/flows/:flowId: how a flow stands or ended.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env.ts";
import { AppError } from "../errors.ts";
import { FlowIdSchema, FlowSchema } from "../schemas.ts";
import type { FlowRecord } from "../storage/flows.ts";
import { defineRoute, json, jsonError, mount, type RouteSpec } from "./define.ts";

const getFlow = defineRoute({
  method: "get",
  path: "/v1/flows/{flowId}",
  tags: ["flows"],
  summary: "Read a flow's status",
  description: "A completed flow keeps its outcome for an hour; a pending one lives until it expires. 404 afterwards.",
  security: [{ ApiKey: [] }],
  request: { param: z.object({ flowId: FlowIdSchema }) },
  responses: {
    200: json("The flow", FlowSchema),
    ...jsonError(400, "Not a flow id"),
    ...jsonError(401, "Missing or unknown API key"),
    ...jsonError(404, "Unknown or expired flow"),
  },
});

/** The routes of this module, for the OpenAPI document. */
export const flowRouteSpecs: RouteSpec[] = [getFlow];

/** The flow as the backend sees it: no verifier, state, binding or URL. */
export function flowView(flow: FlowRecord): z.infer<typeof FlowSchema> {
  return {
    flowId: flow.id,
    kind: flow.kind,
    userId: flow.userId,
    ...(flow.accountId ? { accountId: flow.accountId } : {}),
    status: flow.status,
    ...(flow.errorCode ? { errorCode: flow.errorCode } : {}),
    ...(flow.identity ? { identity: flow.identity, digimeUserId: flow.digimeUserId } : {}),
    createdAt: new Date(flow.createdAt).toISOString(),
    expiresAt: new Date(flow.expiresAt).toISOString(),
    ...(flow.completedAt ? { completedAt: new Date(flow.completedAt).toISOString() } : {}),
  };
}

/** The flow-reading route. */
export function flowRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  mount(app, getFlow, async (c) => {
    const { flowId } = c.req.valid("param");
    const flow = await c.var.services.flows.get(flowId);
    if (!flow) throw new AppError(404, "flow_not_found", "unknown or expired flow");
    return c.json(flowView(flow), 200);
  });
  return app;
}
