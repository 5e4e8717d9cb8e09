// Browser-side figures for bench/bench_frontend.py, printed as one JSON line:
//   home: first contentful paint and "figures on screen" of the home page (median of RUNS)
//   territory: time to the first page of a territory's clients, and to the next page
// Env: BASE_URL, TOKEN (a dev token), CHROMIUM, TERRITORY (id), RUNS.
import { chromium } from "playwright-core";

const BASE = process.env.BASE_URL;
const RUNS = Number(process.env.RUNS ?? 5);
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ARGS, headless: true });
const out = { home: { fcp: [], figures: [] }, territory: { first: [], next: [] } };
try {
  for (let i = 0; i < RUNS; i++) {
    // A fresh context each time: a cold cache, as on a first visit.
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    await context.addInitScript((t) => sessionStorage.setItem("territory-token", t), process.env.TOKEN);
    const page = await context.newPage();
    const started = Date.now();
    await page.goto(BASE + "/");
    await page.getByTestId("stat-Clients").waitFor();
    out.home.figures.push(Date.now() - started);
    const fcp = await page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null);
    out.home.fcp.push(fcp);

    if (process.env.TERRITORY) {
      const t0 = Date.now();
      await page.goto(`${BASE}/territories/${encodeURIComponent(process.env.TERRITORY)}`);
      await page.locator('table[aria-label="Clients in this territory"] tbody tr').first().waitFor();
      out.territory.first.push(Date.now() - t0);
      const t1 = Date.now();
      await page.getByRole("button", { name: /Next/ }).click();
      await page.getByText("Page 2 ·").waitFor();
      out.territory.next.push(Date.now() - t1);
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(
  JSON.stringify({
    fcp_ms: median(out.home.fcp),
    figures_ms: median(out.home.figures),
    territory_first_ms: out.territory.first.length ? median(out.territory.first) : null,
    territory_next_ms: out.territory.next.length ? median(out.territory.next) : null,
    runs: RUNS,
  }),
);
