// The workstation's JavaScript unit tests (static/viewer/test/), run by `make test` through `npm test`.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["static/viewer/test/**/*.test.js"],
    environment: "jsdom",
  },
});
