import { describe, expect, it } from "vitest";
import { LIFETIMES_MS } from "../../mock-server/index.ts";
import { recordingClient } from "../support/client.ts";
import { useTestMock } from "../support/mock.ts";

const testMock = useTestMock();

describe("the mock's refresh tokens", () => {
  it("refuses a refresh token past its lifetime as expired, and accepts it just before", async () => {
    const now = () => testMock.mock.now();
    const { token: early } = testMock.mock.createUser();
    const { token: late } = testMock.mock.createUser();
    testMock.mock.advanceClock(LIFETIMES_MS.refreshToken - 60_000);
    const { client } = recordingClient({ now });
    await expect(client.refreshToken(early)).resolves.toHaveProperty("refreshToken.value");
    testMock.mock.advanceClock(60_001);
    await expect(client.refreshToken(late)).rejects.toMatchObject({ code: "InvalidToken", tokenSubject: "refresh_token", message: "The token (refresh_token) is expired" });
  });
});
