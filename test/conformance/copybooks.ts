/** The copybooks part of `npm run conformance` (not written yet). */
export async function main(corpus: string): Promise<boolean> {
  console.log(`copybooks: not measured yet (corpus at ${corpus})`);
  return true;
}
