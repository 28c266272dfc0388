#!/usr/bin/env node
// The `ecdock-docker-plugin` command.
import { main } from './plugin-daemon';

void main(process.argv.slice(2));
