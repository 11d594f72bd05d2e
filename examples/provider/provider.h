/* SPDX-License-Identifier: GPL-2.0 */
/* provider.h: the interface the provider module exports to other modules. */
#ifndef PROVIDER_H
#define PROVIDER_H

int provider_add(int a, int b);

#endif /* PROVIDER_H */
