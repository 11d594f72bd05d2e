# doc/doc.mk — man pages and bash completion; included by the GNUmakefile,
# which provides BUILD, Q, DESTDIR and PREFIX.
#
#   make man                   build/man/kbuildd.8, kbuildd-dkms.8, kbuildd.recipe.5,
#                              kbuildd.conf.5 (scdoc)
#   make check-man             lint them: mandoc -T lint, man --warnings
#   make install-man           into $(DESTDIR)$(MANDIR)/man8 and man5
#   make install-completion    into $(DESTDIR)$(BASHCOMPDIR)/kbuildd
#   make uninstall-man uninstall-completion
#   make doc-deps              install scdoc, mandoc and man-db (as root), or say how

MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

DOC_PKGS := scdoc mandoc man-db
MAN1_PAGES := kbuildd-package.1
MAN8_PAGES := kbuildd.8 kbuildd-dkms.8
MAN5_PAGES := kbuildd.recipe.5 kbuildd.conf.5
MAN_PAGES := $(addprefix $(BUILD)/man/,$(MAN1_PAGES) $(MAN8_PAGES) $(MAN5_PAGES))

# scdoc puts a .P right before and after every .SH and .SS, which mandoc
# reports as "skipping paragraph macro"; they change nothing in the output.
# Every other message at warning level or above fails check-man.
MANDOC_HARMLESS := WARNING: skipping paragraph macro: PP (empty|after SH|after SS)$$

.PHONY: man check-man install-man uninstall-man install-completion uninstall-completion \
	doc-deps

man: $(MAN_PAGES)

$(BUILD)/man/%: doc/%.scd
	$(Q)command -v scdoc >/dev/null || { \
		echo "kbuildd: scdoc not found; run 'make doc-deps' or 'apt-get install scdoc'" >&2; \
		exit 1; }
	$(Q)mkdir -p $(dir $@)
	@# the page's date: SOURCE_DATE_EPOCH, else the source's last commit, else today
	$(Q)epoch=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct -- $< 2>/dev/null)}; \
	if [ -n "$$epoch" ]; then export SOURCE_DATE_EPOCH="$$epoch"; fi; \
	scdoc < $< > $@.tmp && mv -f $@.tmp $@ || { rm -f $@.tmp; exit 1; }

doc-deps:
	$(Q)build-aux/install-deps $(DOC_PKGS)

check-man: doc-deps man
	$(Q)status=0; \
	for page in $(MAN_PAGES); do \
		out=$$(mandoc -T lint -W warning "$$page" 2>&1 | grep -Ev '$(MANDOC_HARMLESS)'); \
		if [ -n "$$out" ]; then \
			printf '%s\n' "$$out" >&2; \
			status=1; \
		fi; \
		if command -v man >/dev/null; then \
			err=$$(MANWIDTH=80 man --warnings -l "$$page" 2>&1 >/dev/null); \
			if [ -n "$$err" ]; then \
				printf '%s: man --warnings:\n%s\n' "$$page" "$$err" >&2; \
				status=1; \
			fi; \
		fi; \
	done; \
	exit $$status

# With DKMS_COMPAT=1 (see the GNUmakefile), `man dkms` shows the front end's
# page and `dkms` completes as kbuildd's front end.
install-man: man
	install -d -m 0755 $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 $(addprefix $(BUILD)/man/,$(MAN1_PAGES)) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(addprefix $(BUILD)/man/,$(MAN8_PAGES)) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(addprefix $(BUILD)/man/,$(MAN5_PAGES)) $(DESTDIR)$(MANDIR)/man5/
	if [ "$(DKMS_COMPAT)" = 1 ]; then ln -sfn kbuildd-dkms.8 $(DESTDIR)$(MANDIR)/man8/dkms.8; fi

uninstall-man:
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(MAN1_PAGES)) \
		$(addprefix $(DESTDIR)$(MANDIR)/man8/,$(MAN8_PAGES)) \
		$(addprefix $(DESTDIR)$(MANDIR)/man5/,$(MAN5_PAGES))
	if [ -L $(DESTDIR)$(MANDIR)/man8/dkms.8 ]; then rm -f $(DESTDIR)$(MANDIR)/man8/dkms.8; fi

install-completion:
	install -D -m 0644 doc/kbuildd.bash-completion $(DESTDIR)$(BASHCOMPDIR)/kbuildd
	if [ "$(DKMS_COMPAT)" = 1 ]; then ln -sfn kbuildd $(DESTDIR)$(BASHCOMPDIR)/dkms; fi

uninstall-completion:
	rm -f $(DESTDIR)$(BASHCOMPDIR)/kbuildd
	if [ -L $(DESTDIR)$(BASHCOMPDIR)/dkms ]; then rm -f $(DESTDIR)$(BASHCOMPDIR)/dkms; fi
