/**
 * GET /v1/flows/:flowId: how a flow stands or ended (optionally long-polled);
 * POST /v1/flows/:flowId/confirm: the application confirms a flow awaiting it.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env.ts";
import { AppError } from "../errors.ts";
import { FlowIdSchema, FlowSchema, FlowWaitQuerySchema } from "../schemas.ts";
import type { FlowRead } from "../users/api.ts";
import { contractFor, requestScope } from "./scope.ts";
import { defineRoute, json, jsonError, mount, type RouteSpec } from "./define.ts";

const getFlow = defineRoute({
  method: "get",
  path: "/v1/flows/{flowId}",
  tags: ["flows"],
  summary: "Read a flow's status",
  description:
    "The latest state from any location (the user's Durable Object answers). A flow that ended keeps its outcome for an hour; 404 afterwards. " +
    "`wait=N` (1–25 seconds) is a long poll: a pending flow's answer comes the moment it ends, or after N seconds still pending.",
  security: [{ ApiKey: [] }],
  request: { param: z.object({ flowId: FlowIdSchema }), query: FlowWaitQuerySchema },
  responses: {
    200: json("The flow", FlowSchema),
    ...jsonError(400, "Not a flow id, or `wait` not a whole number of seconds from 0 to 25"),
    ...jsonError(401, "Missing or unknown API key"),
    ...jsonError(404, "Unknown flow, or its outcome is no longer kept"),
    ...jsonError(503, "Storage unavailable (retryable)"),
  },
});

const confirmFlow = defineRoute({
  method: "post",
  path: "/v1/flows/{flowId}/confirm",
  tags: ["flows"],
  summary: "Confirm a flow whose digi.me identity is not the user's known one",
  description:
    "For a flow `awaiting_confirmation` (a full authorization, or a user flow without a known identity, brought a token of digi.me identity `new` or `replaced`): " +
    "call it only after checking the signed return against your own signed-in session (the returning browser is your user). " +
    "The token is then stored under the flow's user and announced (`flow.succeeded` with the token). Confirming a flow already confirmed answers it again. " +
    "No body.",
  security: [{ ApiKey: [] }],
  request: { param: z.object({ flowId: FlowIdSchema }) },
  responses: {
    200: json("The flow, now succeeded", FlowSchema),
    ...jsonError(400, "Not a flow id"),
    ...jsonError(401, "Missing or unknown API key"),
    ...jsonError(404, "Unknown flow, or its outcome is no longer kept"),
    ...jsonError(409, "The flow is not awaiting confirmation (flow_not_awaiting_confirmation; `error.status` says where it stands)"),
    ...jsonError(503, "Storage unavailable (retryable)"),
  },
});

/** The routes of this module, for the OpenAPI document. */
export const flowRouteSpecs: RouteSpec[] = [getFlow, confirmFlow];

/** The flow as the backend sees it: no verifier, state, binding or URL; a succeeded flow's session opened. */
export function flowView(flow: FlowRead, contractId: string): z.infer<typeof FlowSchema> {
  return {
    flowId: flow.id,
    kind: flow.kind,
    contractId,
    userId: flow.userId,
    ...(flow.accountId ? { accountId: flow.accountId } : {}),
    status: flow.status,
    ...(flow.errorCode ? { errorCode: flow.errorCode } : {}),
    ...(flow.errorSource ? { errorSource: flow.errorSource } : {}),
    ...(flow.confirmBy && flow.status === "awaiting_confirmation" ? { confirmBy: new Date(flow.confirmBy).toISOString() } : {}),
    ...(flow.identity ? { identity: flow.identity, digimeUserId: flow.digimeUserId } : {}),
    ...(flow.tokenVersion !== undefined ? { tokenVersion: flow.tokenVersion } : {}),
    ...(flow.session ? { session: flow.session } : {}),
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
    const { wait } = c.req.valid("query");
    const services = c.var.services;
    // The start entry names the flow's user, whose object holds the flow's state.
    const entry = await services.flowEntries.get(flowId);
    // The flow's own contract, never the default by accident; a key limited to other contracts gets 403.
    const contract = entry ? contractFor(c, entry.contractId) : undefined;
    const flow = entry && contract ? await contract.users.of(entry.userId, requestScope(c)).flow(flowId, (wait ?? 0) * 1000) : null;
    if (!flow || !contract) throw new AppError("flow_not_found", "unknown flow, or its outcome is no longer kept");
    return c.json(flowView(flow, contract.id), 200);
  });
  mount(app, confirmFlow, async (c) => {
    const { flowId } = c.req.valid("param");
    const services = c.var.services;
    const entry = await services.flowEntries.get(flowId);
    if (!entry) throw new AppError("flow_not_found", "unknown flow, or its outcome is no longer kept");
    const contract = contractFor(c, entry.contractId);
    return c.json(flowView(await contract.users.of(entry.userId, requestScope(c)).confirm(flowId), contract.id), 200);
  });
  return app;
}
