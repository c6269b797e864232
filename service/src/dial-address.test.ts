// dialAddress: wildcards become the loopback of their family, everything else is kept.
import { expect, it } from "vitest";
import { dialAddress } from "./dial-address.js";

it("dials the loopback for a wildcard and the address itself otherwise", () => {
  expect(dialAddress("0.0.0.0", 50051)).toBe("127.0.0.1:50051");
  expect(dialAddress("::", 50051)).toBe("[::1]:50051");
  expect(dialAddress("[::]", 50051)).toBe("[::1]:50051");
  expect(dialAddress("0:0:0:0:0:0:0:0", 50051)).toBe("[::1]:50051");
  expect(dialAddress("127.0.0.1", 1)).toBe("127.0.0.1:1");
  expect(dialAddress("127.0.0.2", 50051)).toBe("127.0.0.2:50051");
  expect(dialAddress("::1", 50051)).toBe("[::1]:50051");
  expect(dialAddress("[fd00::0:1]", 50051)).toBe("[fd00::1]:50051");
  expect(dialAddress("10.1.2.3", 50051)).toBe("10.1.2.3:50051");
  expect(dialAddress("spool.internal", 50051)).toBe("spool.internal:50051");
});
