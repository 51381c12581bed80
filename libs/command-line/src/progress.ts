/** A progress callback that reports every tenth of the way (long reads: an image folder of 60,000 files takes a minute). */
export function tenthsOf(what: string, say: (line: string) => void): (done: number, total: number) => void {
  let reported = 0;
  return (done, total) => {
    const tenth = Math.floor((10 * done) / total);
    if (tenth > reported) {
      reported = tenth;
      say(`${what} ${done}/${total}`);
    }
  };
}
