/**
 * Where the development stack keeps its files. This folder is development tooling: it is never
 * compiled into dist/ nor copied into the image, so paths are taken relative to this file in a clone.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file sits in <repo>/tools/dev-stack/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** State and data of the stack when no --dir is given. */
export const DEFAULT_STACK_DIR = path.join(REPO_ROOT, '.local', 'stack');
/** Where Maven lays out the jars, shared by every stack dir; override with KSC_STACK_DIST. */
export const DIST_DIR = process.env['KSC_STACK_DIST'] ?? path.join(REPO_ROOT, '.local', 'dist');
/** The Maven project that fetches Kafka and Apicurio from Maven Central. */
export const POM = path.join(REPO_ROOT, 'tools', 'dev-stack', 'pom.xml');
