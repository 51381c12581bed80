/** Entry of the edge-client app (nest-cli project, Docker): `fedkd client` with the same flags. */
import { buildCli } from '../../cli/src/main';

void buildCli().parseAsync([process.argv[0], process.argv[1], 'client', ...process.argv.slice(2)]);
