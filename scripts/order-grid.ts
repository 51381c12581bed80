/**
 * How close epsilon on the Rényi order grids comes to the optimum over continuous orders, on the
 * issue-13 sweep (see libs/privacy's order-grid-sweep.ts): the largest overshoot per mechanism for
 * TensorFlow Privacy's 73 orders and for DEFAULT_ORDERS. Deterministic (no randomness).
 *   npm run -s order-grid [-- --json]
 */
import { Command } from 'commander';
import { DEFAULT_ORDERS, ORDER_GRID_MECHANISMS, TF_PRIVACY_ORDERS, sweepOvershoot } from '@fedkd/privacy';
import { exitOnError } from '@fedkd/command-line';

const program = new Command('order-grid')
  .description('largest epsilon overshoot of the order grids over the continuous optimum')
  .option('--json', 'print JSON instead of a table')
  .action((options: { json?: boolean }) => {
    const grids = { 'tf-privacy': TF_PRIVACY_ORDERS, default: DEFAULT_ORDERS };
    const rows = Object.entries(grids).flatMap(([grid, orders]) => {
      const result = sweepOvershoot(orders);
      return ORDER_GRID_MECHANISMS.map((mechanism) => ({ grid, orders: orders.length, mechanism, ...result[mechanism]! }));
    });
    if (options.json) {
      console.log(JSON.stringify(rows, null, 2));
      return;
    }
    console.log('| grid | orders | mechanism | largest overshoot | at |');
    console.log('|---|---|---|---|---|');
    for (const row of rows) console.log(`| ${row.grid} | ${row.orders} | ${row.mechanism} | ${row.worst.toFixed(4)} | ${row.where} |`);
  });

void exitOnError('order-grid', async () => {
  await program.parseAsync(process.argv);
});
