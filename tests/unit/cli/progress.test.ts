import { createProgress } from '../../../cli/core/progress';

function output(isTTY: boolean) {
  const out = { text: '', isTTY, columns: 40, write: (t: string) => ((out.text += t), true) };
  return out;
}

it('on a terminal, redraws one line at most ten times a second and ends it', () => {
  let t = 0;
  const out = output(true);
  const progress = createProgress(out, { tty: true, intervalMs: 5000, now: () => t });

  progress.update(() => 'a');
  t = 50;
  progress.update(() => 'b');
  t = 150;
  progress.update(() => 'c'.repeat(60));
  progress.log('warning');
  progress.done();

  expect(out.text).toBe(`\r\x1b[2Ka\r\x1b[2K${'c'.repeat(39)}\r\x1b[2Kwarning\n\r\x1b[2K${'c'.repeat(39)}\r\x1b[2K${'c'.repeat(39)}\n`);
});

it('elsewhere, prints a plain line per interval', () => {
  let t = 0;
  const out = output(false);
  const progress = createProgress(out, { tty: false, intervalMs: 1000, now: () => t });

  progress.update(() => 'first');
  t = 1000;
  progress.update(() => 'second');
  t = 1500;
  progress.update(() => 'third');
  progress.log('warning');
  progress.done();

  expect(out.text).toBe('second\nwarning\n');
});
