/**
 * Renders the encoder ladder's results (bench/results/efficacy.json) as markdown: the whole
 * bench/results/efficacy.md, and the tables the README shows between its `ladder:start` and
 * `ladder:end` markers (so the README's figures are generated from the results, not copied).
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';

/** One cleanse + evaluate of the ladder. */
export interface LadderRun {
  /** When and at which commit this run was made (absent on runs before 2026-12-05 13:40). */
  date?: string;
  commit?: string;
  seconds: number;
  flagged: number[];
  detection: { targetFound: boolean; wronglyFlagged: number[] };
  split: { removalRecall: number; cleanLoss: number; relabelAccuracy: number | null; poisonedPrecision: number | null };
  separation: { auroc: number; ownKeptAt99Removal: number; ownRows: number } | null;
  /** ndIndexLinear: the ND index on the linear scale gssd used before the log scale (absent on older runs). */
  tests: { ndIndex: number | null; ndIndexLinear?: number | null; dIndex: number | null; critical: number | null } | null;
  verdict: string | null;
}

/** bench/results/efficacy.json. */
export interface Ladder {
  budget: Record<string, number>;
  /** Per encoder ("pixels", "untrained", "transfer", "simclr/ATTACK"): 20-NN accuracy and its cost. */
  encoders: Record<string, Record<string, any>>;
  /** Per "RUNG/ATTACK": the default (robust), paper and k-NN runs. */
  cells: Record<string, { date: string; commit: string; seconds: number; default: LadderRun; paper: LadderRun; knn: LadderRun }>;
  /** Per attack: ACC/ASR of the classifier with no defence, GSSD's split, the oracle split. */
  retrain: Record<string, Record<string, any>>;
  /** Per "RUNG/shardK": a default cleanse of unpoisoned rows (every flag is a false alarm). */
  clean?: Record<string, CleanCheck>;
}

/** A default cleanse of unpoisoned rows: what it flags and its largest outlier indices. */
export interface CleanCheck {
  date: string;
  commit: string;
  seconds: number;
  flagged: { label: number; test: string }[];
  ndIndexMax: number | null;
  ndIndexMaxLinear: number | null;
  dIndexMax: number | null;
  critical: number | null;
}

const RUNG_ORDER = ['pixels', 'untrained', 'simclr', 'transfer'];
const ATTACK_ORDER = ['badnets', 'blend', 'wanet', 'adap-patch', 'adap-blend', 'lc'];
const pct = (x: number | null | undefined, digits = 1) => (x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(digits)}%`);
const idx = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : x.toFixed(2));

function found(r: LadderRun): string {
  const wrong = r.detection.wronglyFlagged.length;
  return `${r.detection.targetFound ? 'yes' : 'no'}${wrong ? ` +${wrong} clean` : ''}`;
}

/** Which cleanse's split the GSSD classifier trained on, and whether the other mode's split is the same (same counts per truth x split). */
function splitName(l: Ladder, attack: string, split: string): string {
  const cell = l.cells[`transfer/${attack}`];
  const same = cell && JSON.stringify((cell.default.split as any).counts) === JSON.stringify((cell.paper.split as any).counts);
  const name = split === 'paper' ? '`--target-detection paper`' : 'defaults';
  return same ? `${name} (the same split as ${split === 'paper' ? 'the defaults' : '`paper`'})` : name;
}

/** The ladder table and the retraining table (markdown lines). */
export function ladderTables(l: Ladder): string[] {
  const keys = Object.keys(l.cells).sort((a, b) => {
    const [ra, aa] = a.split('/');
    const [rb, ab] = b.split('/');
    return RUNG_ORDER.indexOf(ra) - RUNG_ORDER.indexOf(rb) || ATTACK_ORDER.indexOf(aa) - ATTACK_ORDER.indexOf(ab);
  });
  const lines = [
    '| encoder | attack | 20-NN acc. | target found: robust / paper | target index ND (linear scale) / D (critical) | score AUROC | own rows kept, best cut at 99% removal | defaults: removal / clean loss | relabel acc. | paper: removal / clean loss / relabel acc. | k-NN detector: removal / clean loss |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const key of keys) {
    const [rung, attack] = key.split('/');
    const c = l.cells[key];
    const enc = l.encoders[rung === 'simclr' ? key : rung] ?? {};
    const d = c.default;
    const t = d.tests;
    lines.push(
      `| ${rung} | ${attack} | ${pct(enc.knn20)} | ${found(d)} / ${found(c.paper)} | ${idx(t?.ndIndex)}${t?.ndIndexLinear != null ? ` (${idx(t.ndIndexLinear)})` : ''} / ${idx(t?.dIndex)} (${idx(t?.critical)}) | ${d.separation ? d.separation.auroc.toFixed(3) : 'n/a'} | ${d.separation ? pct(d.separation.ownKeptAt99Removal) : 'n/a'} | ${pct(d.split.removalRecall)} / ${pct(d.split.cleanLoss)} | ${pct(d.split.relabelAccuracy)} | ${pct(c.paper.split.removalRecall)} / ${pct(c.paper.split.cleanLoss)} / ${pct(c.paper.split.relabelAccuracy)} | ${pct(c.knn.split.removalRecall)} / ${pct(c.knn.split.cleanLoss)} |`,
    );
  }
  const clean = Object.keys(l.clean ?? {}).sort((a, b) => RUNG_ORDER.indexOf(a.split('/')[0]) - RUNG_ORDER.indexOf(b.split('/')[0]) || a.localeCompare(b));
  if (clean.length) {
    lines.push('', '| encoder | unpoisoned rows | flagged (false alarms) | largest ND index (linear scale) | largest D index | critical |', '| --- | --- | --- | --- | --- | --- |');
    for (const key of clean) {
      const [rung, set] = key.split('/');
      const c = l.clean![key];
      const flags = c.flagged.length ? c.flagged.map((f) => `class ${f.label} (${f.test})`).join(', ') : 'none';
      lines.push(`| ${rung} | CIFAR-10 train ${set.replace('shard', 'shard ')}, first ${l.budget.rows} | ${flags} | ${idx(c.ndIndexMax)} (${idx(c.ndIndexMaxLinear)}) | ${idx(c.dIndexMax)} | ${idx(c.critical)} |`);
    }
  }
  const attacks = Object.keys(l.retrain).sort((a, b) => ATTACK_ORDER.indexOf(a) - ATTACK_ORDER.indexOf(b));
  if (attacks.length) {
    lines.push('', '| attack (transfer encoder) | ACC / ASR no defence | ACC / ASR GSSD | ACC / ASR oracle | GSSD split | classifier |', '| --- | --- | --- | --- | --- | --- |');
    for (const a of attacks) {
      const r = l.retrain[a];
      const split = (m: any) => (m.targetAcc == null ? '' : ` (class 0: ${pct(m.targetAcc)}, others: ${pct(m.otherAcc)})`);
      const cell = (m: any) => (m ? `${pct(m.acc)} / ${pct(m.asr, 2)}${split(m)}` : 'not run');
      lines.push(`| ${a} | ${cell(r.none)} | ${cell(r.gssd)} | ${cell(r.oracle)} | ${splitName(l, a, r.gssdSplit)} | width ${r.width}, ${r.epochs} epochs |`);
    }
  }
  return lines;
}

/** The encoders' provenance lines. */
function encoderNotes(l: Ladder): string[] {
  const t = l.encoders.transfer;
  return [
    `- pixels: the 0..1 image average-pooled 4 x 4 (192 features).`,
    `- untrained: a ResNet-18 of width ${l.budget.width}, seed ${l.budget.seed}, never trained.`,
    `- simclr: \`gssd pretrain\` on the attack's poisoned rows, width ${l.budget.width}, ${l.budget.pretrainEpochs} epochs, batch 128.`,
    t
      ? `- transfer: \`gssd train\` (labels) on CIFAR-10 train shards 3-4 (20,000 rows never poisoned or evaluated), width ${t.width}, ${t.epochs} epochs${t.trainSeconds ? ` (${(t.trainSeconds / 60).toFixed(0)} min)` : ''}, ${pct(t.testAcc)} test accuracy on the ${l.budget.testRows} test rows; its backbone exported with \`gssd export-onnx --model\` and given to the cleanse with \`--encoder\`.`
      : '- transfer: not run yet.',
  ];
}

/**
 * Writes `md` (the whole results page) and replaces the README's ladder section.
 *
 * @example
 *   await renderLadder(JSON.parse(await readFile('bench/results/efficacy.json', 'utf8')), 'bench/results/efficacy.md', 'README.md');
 */
export async function renderLadder(l: Ladder, md: string, readme: string): Promise<void> {
  const runs = [...Object.values(l.cells).flatMap((c) => [c, c.default, c.paper, c.knn]), ...Object.values(l.clean ?? {})];
  const dates = runs.map((r) => r.date).filter((d): d is string => !!d).sort();
  const commits = [...new Set(runs.map((r) => r.commit).filter((c): c is string => !!c))];
  const page = [
    '# The encoder ladder on CIFAR-10 (gssd bench:efficacy)',
    '',
    `Runs from ${dates[0] ?? 'n/a'} to ${dates.at(-1) ?? 'n/a'}, code at commit(s) ${commits.join(', ')}.`,
    '',
    `Data: the first ${l.budget.rows} CIFAR-10 training rows poisoned per attack (target 0, seed 1), ${l.budget.testRows} test rows; every cleanse at gssd's defaults (robust detection, adaptive cut) except the encoder; "paper" = \`--target-detection paper\`, "k-NN detector" = \`--detector knn\` on the same features. 20-NN accuracy: leave-one-out, cosine, true labels, over the ${l.budget.rows} clean rows.`,
    '',
    ...encoderNotes(l),
    '',
    ...ladderTables(l),
    '',
    'Seconds per cell (its three cleanses): ' +
      Object.entries(l.cells)
        .map(([k, c]) => `${k} ${c.seconds.toFixed(0)}`)
        .join(', ') +
      '.',
    '',
  ];
  await writeFile(md, page.join('\n'));
  if (!readme || !existsSync(readme)) return;
  const text = await readFile(readme, 'utf8');
  const start = '<!-- ladder:start (generated by npm run bench:efficacy -- --render) -->';
  const end = '<!-- ladder:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return;
  const section = [start, ...encoderNotes(l), '', ...ladderTables(l), end].join('\n');
  await writeFile(readme, text.slice(0, a) + section + text.slice(b + end.length));
}
