/* Every bound kbuildd puts on its input, named in one place. */
#pragma once

#define KB_MAX_RECIPE_SIZE (256 * 1024)	       /* bytes in one recipe file */
#define KB_MAX_RECIPE_LINE 8192		       /* bytes in one recipe line: a deep path fits */
#define KB_MAX_CONFIG_SIZE (64 * 1024)	       /* kbuildd.conf */
#define KB_MAX_KCONFIG_SIZE (8 * 1024 * 1024)  /* a kernel's .config */
#define KB_MAX_SYMVERS_SIZE (64 * 1024 * 1024) /* Module.symvers */
#define KB_MAX_MODULE_SIZE (256 * 1024 * 1024) /* one built .ko */
#define KB_MAX_MANIFEST_SIZE (1024 * 1024)
#define KB_MAX_INTENT_SIZE (1024 * 1024) /* an intent journal of staged temps */
#define KB_MAX_KEY_FILE (64 * 1024)	 /* a signing key, PEM or DER */
#define KB_MAX_CERT_FILE (1024 * 1024)	 /* a signing certificate */
#define KB_MAX_MODULES 256		 /* [module] sections per recipe */
#define KB_MAX_LIST_ITEMS 256		 /* words in one list value */
#define KB_MAX_NAME 64			 /* recipe and module names */
#define KB_MAX_VERSION 64
#define KB_MAX_RELEASE 128		  /* a kernel release given with -k */
#define KB_MAX_REGEX_EXPANDED (64 * 1024) /* an exclusive_kernel regex, repetitions unrolled */
#define KB_MAX_STRING (16 * 1024 * 1024)  /* default kb_buf ceiling */
#define KB_MAX_LOG_TAIL 12		  /* lines of a failed log shown */
#define KB_MAX_LOG (32 * 1024 * 1024)	  /* bytes of output kept from one build */
#define KB_MAX_SANDBOX_PATHS 64		  /* trees kept in view in one sandbox */
#define KB_MAX_REACH_ENTRIES 256	  /* entries of a closed kept tree put back (sandbox) */
#define KB_MAX_KERNEL_TREES 8		  /* trees one kernel's build reads (kernel.c) */
#define KB_MAX_JOBS 1024
#define KB_MAX_DOWNLOAD (512 * 1024 * 1024)		  /* one source download */
#define KB_MAX_EXTRACTED ((size_t)2 * 1024 * 1024 * 1024) /* bytes unpacked from one archive */
/* entries in one source archive or `path =` tree: a driver has a few thousand, Linux ~80000 */
#define KB_MAX_ARCHIVE_ENTRIES 100000
/* entries looked at in one /lib/modules/KERNEL for a same-named module: Debian's have ~7000 */
#define KB_MAX_MODULE_TREE 200000
#define KB_MAX_ARTIFACT_MANIFEST \
	(256 * 1024)			/* a build cache artifact's manifest, or its OCI one */
#define KB_MAX_ARTIFACT_FILES 512	/* files in one artifact */
#define KB_MAX_STORE_ANSWER (64 * 1024) /* an error page, a token */
