import { readStyles } from "@/test/fixtures";
import { contrastRatio, cssVariables, parseHex } from "./contrast";

describe("WCAG contrast", () => {
  it("matches the reference values", () => {
    expect(contrastRatio("#ffffff", "#000000")).toBeCloseTo(21, 5);
    expect(contrastRatio("#777777", "#ffffff")).toBeCloseTo(4.48, 2);
    expect(contrastRatio("#fff", "#fff")).toBe(1);
    expect(parseHex("#8e0b0b")).toEqual([142, 11, 11]);
    expect(() => parseHex("red")).toThrow();
  });

  it("gives the rollback button at least 7:1, from the colours in the real stylesheet", () => {
    const vars = cssVariables(readStyles());
    const [bg, fg, hover, strip] = ["--rollback-bg", "--rollback-fg", "--rollback-hover", "--cockpit-bg"].map((name) => {
      const value = vars[name];
      expect(value, name).toMatch(/^#[0-9a-f]{3,6}$/i);
      return value as string;
    }) as [string, string, string, string];
    expect(contrastRatio(fg, bg)).toBeGreaterThanOrEqual(7); // its label on it
    expect(contrastRatio(fg, hover)).toBeGreaterThanOrEqual(7); // and while hovered
    expect(contrastRatio(bg, strip)).toBeGreaterThanOrEqual(7); // the button against the cockpit strip
  });

  it("keeps the stylesheet's rollback rule on those variables", () => {
    const css = readStyles();
    const rule = css.match(/\.rollback-button\s*\{([^}]*)\}/)?.[1] ?? "";
    expect(rule).toContain("background: var(--rollback-bg)");
    expect(rule).toContain("color: var(--rollback-fg)");
  });
});
