/*
 * Fault injection for crash tests (curl's torture idea). Every effect on
 * state — a write, fsync, rename, unlink, mkdir or spawn — passes a fault
 * point. KBUILDD_FAULT_AT=N kills the process with SIGKILL at the Nth;
 * KBUILDD_FAULT_COUNT=FILE records at exit how many there were, so a test
 * can walk every point. Inert when neither is set.
 */
#pragma once

void kb_fault_point(const char *what);
