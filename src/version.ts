/** The gssd version, written into every output's metadata and report. */
export const VERSION = '0.1.0';
