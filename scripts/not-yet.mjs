// Placeholder entry for root scripts whose implementation is tracked by an open issue; says so and fails.
const what = process.argv[2];
const issue = { demo: 9, bench: 10 }[what];
console.error(`llava-ts: "pnpm ${what}" is not written yet (issue ${issue}).`);
process.exit(1);
