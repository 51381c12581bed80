/** Entry of the coordinator app (nest-cli project, Docker): `fedkd coordinator` with the same flags. */
import { buildCli } from '../../cli/src/main';

void buildCli().parseAsync([process.argv[0], process.argv[1], 'coordinator', ...process.argv.slice(2)]);
