import { chromium } from "playwright-core";
const BASE = process.env.BASE_URL;
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"], headless: true });
for (let i = 0; i < 2; i++) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await context.addInitScript((t) => sessionStorage.setItem("territory-token", t), process.env.TOKEN);
  const page = await context.newPage();
  const started = Date.now();
  const log = [];
  page.on("request", (r) => log.push([Date.now() - started, "req", r.url().replace(BASE, "")]));
  page.on("requestfinished", (r) => log.push([Date.now() - started, "done", r.url().replace(BASE, "")]));
  page.on("console", (m) => log.push([Date.now() - started, "console", m.text()]));
  await page.goto(BASE + "/");
  log.push([Date.now() - started, "goto-returned"]);
  await page.getByTestId("stat-Clients").waitFor();
  log.push([Date.now() - started, "stat-Clients"]);
  for (const l of log) console.log(l.join(" "));
  console.log("----");
  await context.close();
}
await browser.close();
