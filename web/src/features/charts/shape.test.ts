import { ev, resetSeq } from "@/test/fixtures";
import { linearScale } from "./scale";
import {
  estimatedContextCost,
  evalPerplexity,
  lossBySegment,
  measuredContextCostFromMetrics,
  memoryOverTime,
  needleGrid,
  needleGridFromFile,
  perplexityByLength,
} from "./shape";

beforeEach(resetSeq);

describe("chart data shaping", () => {
  it("splits the loss at each rollback and marks where it returned to", () => {
    const events = [
      ev("StepLogged", { loss: 3 }, { step: 1 }),
      ev("StepLogged", { loss: 2 }, { step: 2 }),
      ev("StepLogged", { loss: null }, { step: 3 }), // NaN in the log: left out
      ev("StepLogged", { loss: 9 }, { step: 4 }),
      ev("RolledBack", { checkpoint: "/r/checkpoints/step-000002", set_aside: "/r/abandoned/t" }, { step: 2, segment: 1 }),
      ev("StepLogged", { loss: 1.5 }, { step: 3, segment: 1 }),
    ];
    const { series, rollbacks } = lossBySegment(events);
    expect(series).toEqual([
      { name: "loss (segment 0)", points: [{ x: 1, y: 3 }, { x: 2, y: 2 }, { x: 4, y: 9 }], dashed: true },
      { name: "loss (segment 1)", points: [{ x: 3, y: 1.5 }], dashed: false },
    ]);
    expect(rollbacks).toEqual([{ x: 2, label: "rolled back to step-000002" }]);
  });

  it("names a single segment plainly", () => {
    expect(lossBySegment([ev("StepLogged", { loss: 1 }, { step: 1 })]).series[0]?.name).toBe("loss");
  });

  it("puts eval perplexity by step per model, and memory by seconds since the start", () => {
    const events = [
      ev("RunStarted"),
      ev("EvalCompleted", { model: "base", metrics: { eval_perplexity: 20 } }),
      ev("StepLogged", { loss: 1, memory_gib: 0.5 }, { step: 1 }),
      ev("EvalCompleted", { model: "grown", metrics: { eval_perplexity: 15 } }, { step: 4 }),
    ];
    expect(evalPerplexity(events)).toEqual([
      { name: "eval perplexity (base)", points: [{ x: 0, y: 20 }] },
      { name: "eval perplexity (grown)", points: [{ x: 4, y: 15 }] },
    ]);
    expect(memoryOverTime(events)).toEqual([{ name: "memory (GiB)", points: [{ x: 2, y: 0.5 }] }]);
  });

  it("reads perplexity by context length from the manifest's metrics, sorted by length", () => {
    const metrics = {
      base: { long_ppl: { perplexity: 30, truncated_perplexity: { "1024": 25, "512": 20 } } },
      grown: { long_ppl: { perplexity: 22, truncated_perplexity: { "512": 18, "1024": 19 } } },
    };
    expect(perplexityByLength(metrics)).toEqual([
      { name: "base", points: [{ x: 512, y: 20 }, { x: 1024, y: 25 }] },
      { name: "grown", points: [{ x: 512, y: 18 }, { x: 1024, y: 19 }] },
    ]);
    expect(perplexityByLength({ grown: { eval_loss: 1 } })).toEqual([]);
  });

  it("builds the needle grid from the manifest table and from the eval file alike", () => {
    const fromTable = needleGrid({ "512": { "0%": 1, "50%": 0, "100%": 0.5 }, "256": { "0%": 1, "50%": 1, "100%": 1 } });
    expect(fromTable).toEqual({ lengths: [256, 512], depths: ["0%", "50%", "100%"], accuracy: [[1, 1, 1], [1, 0, 0.5]] });
    const file = {
      lengths: [256, 512],
      depths: [0, 0.5, 1],
      cells: [
        { length: 256, depth: 0, accuracy: 1 },
        { length: 256, depth: 0.5, accuracy: 1 },
        { length: 256, depth: 1, accuracy: 1 },
        { length: 512, depth: 0, accuracy: 1 },
        { length: 512, depth: 0.5, accuracy: 0 },
        { length: 512, depth: 1, accuracy: 0.5 },
      ],
    };
    expect(needleGridFromFile(file)).toEqual(fromTable);
    expect(needleGrid(null)).toBeNull();
  });

  it("estimates memory per context length from the plan: the per-token part grows, the rest stays", () => {
    const plan = {
      context: { native_length: 256, target_length: 512 },
      training: {
        memory: { total_gib: 1.5, activations_gib: 0.4, logits_gib: 0.1 },
        recommendation: { seq_length: 128 },
      },
    };
    const costs = estimatedContextCost(plan);
    expect(costs.map((c) => c.length)).toEqual([128, 256, 512, 1024]);
    expect(costs[0]?.memory_gib).toBeCloseTo(1.5);
    expect(costs[3]?.memory_gib).toBeCloseTo(1.0 + 0.5 * 8);
    expect(costs.every((c) => !c.measured && c.latency_s === null)).toBe(true);
    expect(estimatedContextCost({})).toEqual([]);
  });

  it("scales onto nice ticks", () => {
    const scale = linearScale([0.4741, 0.4744], [0, 100]);
    expect(scale.ticks.length).toBeGreaterThan(2);
    expect(scale(scale.ticks[0] ?? 0)).toBeCloseTo(0, 6);
    expect(linearScale([5, 5], [0, 10]).ticks.length).toBeGreaterThan(1); // a flat series still draws
  });
});

describe("measuredContextCostFromMetrics", () => {
  it("reads the grown model's per-length costs from the manifest, shortest first", () => {
    const metrics = {
      grown: { context_cost: { "2048": { latency_s: 2.5, memory_gib: 1.9 }, "1024": { latency_s: 1.0, memory_gib: 1.2 } } },
    };
    expect(measuredContextCostFromMetrics(metrics)).toEqual([
      { length: 1024, memory_gib: 1.2, latency_s: 1.0, measured: true },
      { length: 2048, memory_gib: 1.9, latency_s: 2.5, measured: true },
    ]);
    expect(measuredContextCostFromMetrics({ grown: {} })).toEqual([]);
  });
});
