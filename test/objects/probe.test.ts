import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { expect, it } from "vitest";
import { userObject } from "../support/objects.ts";

it("probe: does a past alarm fire on its own?", async () => {
  const stub = userObject("probe-" + crypto.randomUUID());
  let fired = 0;
  await runInDurableObject(stub, async (instance, state) => {
    (instance as unknown as { alarm: () => Promise<void> }).alarm = async () => void fired++;
    await state.storage.setAlarm(Date.now() - 60_000);
  });
  await new Promise((r) => setTimeout(r, 3000));
  const still = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
  console.log("fired on its own:", fired, "alarm still set:", still);
  console.log("ran:", await runDurableObjectAlarm(stub), "fired", fired);
  expect(true).toBe(true);
});
