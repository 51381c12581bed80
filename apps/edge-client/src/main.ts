#!/usr/bin/env node
/** Entry of the edge-client app (Docker): `fedkd client` with the same flags; loads neither Nest nor SQLite. */
import { clientCommand } from './client-command';

void clientCommand().parseAsync(process.argv);
