#!/usr/bin/env node
/** Entry of the coordinator app (nest-cli project, Docker): `fedkd coordinator` with the same flags. */
import 'reflect-metadata';
import { coordinatorCommand } from './coordinator-command';

void coordinatorCommand().parseAsync(process.argv);
