import { createHash } from 'node:crypto';
import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_CSP, dashboardPage } from './dashboard-page.js';

const between = (html: string, open: string, close: string): string => {
  const start = html.indexOf(open);
  const end = html.indexOf(close, start);
  expect(start).toBeGreaterThan(-1);
  expect(html.indexOf(open, start + 1)).toBe(-1);
  return html.slice(start + open.length, end);
};
const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

describe('dashboardPage', () => {
  const html = dashboardPage({ demo: false });
  const script = between(html, '<script>', '</script>');
  const style = between(html, '<style>', '</style>');

  it('is one self-contained document: no external script, style, font, image or CDN', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<link|<img|<iframe|@import|url\(|\bsrc=|\bhref=/i);
    // The only URL is the SVG namespace, which is a name, not a request.
    expect(html.match(/https?:\/\/[^\s'"]+/g)).toEqual(['http://www.w3.org/2000/svg']);
    // It polls its own JSON, relative to where it is served.
    expect(script).toContain("fetch('dashboard/data?after=' + after");
  });

  it('ships a script that parses and never writes HTML from data', () => {
    expect(() => new Script(script)).not.toThrow();
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
  });

  it('allows exactly its own inline script and style in its CSP', () => {
    expect(DASHBOARD_CSP).toContain(`script-src ${sha256(script)};`);
    expect(DASHBOARD_CSP).toContain(`style-src ${sha256(style)};`);
    expect(DASHBOARD_CSP).toContain("default-src 'none'");
    expect(DASHBOARD_CSP).toContain("connect-src 'self'");
    // The demo variant differs only in markup, so the same hashes hold.
    const demo = dashboardPage({ demo: true });
    expect(between(demo, '<script>', '</script>')).toBe(script);
    expect(between(demo, '<style>', '</style>')).toBe(style);
  });

  it('shows the SIMULATED banner in demo mode only', () => {
    expect(html).toMatch(/<div id="demo" role="status" hidden>SIMULATED — demo mode/);
    expect(dashboardPage({ demo: true })).toMatch(/<div id="demo" role="status">SIMULATED — demo mode/);
  });
});
