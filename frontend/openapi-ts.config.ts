import { defineConfig } from "@hey-api/openapi-ts";

// `make client` regenerates src/client from openapi.json (written by scripts/gen_openapi.py).
export default defineConfig({
  input: "./openapi.json",
  // OPENAPI_TS_OUT: `make frontend-check` generates into a temporary folder and compares.
  output: { path: process.env.OPENAPI_TS_OUT ?? "./src/client" },
  plugins: ["@hey-api/client-fetch", "@hey-api/typescript", "@hey-api/sdk"],
});
