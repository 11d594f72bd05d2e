/*
 * The build cache's own formats: the artifact manifest a store hands over
 * (never trusted), its detached CMS signature, and the HTTP pieces of a
 * registry's challenge.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "base/log.h"
#include "cache/artifact.h"
#include "cache/http.h"
#include "signing/cms.h"

#define SHA_A "4c206f528fe6c3f85c6b519ac45cd87ab77eea2b66c35022271f307f1e805a1b"
#define SHA_B "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ID "9247c1063f52f37fdf4c4b9f727b9cbbd6706ca07c4ad8c02db377f1fb647964"
#define HEAD \
	"kbuildd-artifact 1\nrecipe hello\nversion 1.0.0\nkernel 6.1.0-57-amd64\nbuild-id " ID "\n"
#define FILE_A "installed " SHA_A " 111376 lib/modules/6.1.0-57-amd64/updates/kbuildd/hello.ko\n"
#define FILE_B "build " SHA_B " 0 Module.symvers\n"

/* Parse @text; 0 or the error, with the reason in @why. */
static int parse(const char *text, struct kb_artifact *a, char *why, size_t size)
{
	kb_artifact_init(a);
	kb_buf_adds(&a->text, text);
	why[0] = '\0';
	return kb_artifact_parse(a, why, size);
}

static void a_manifest_parses_into_its_fields_and_files(void **state)
{
	struct kb_artifact a;
	char why[256];

	(void)state;
	assert_int_equal(parse(HEAD FILE_A FILE_B, &a, why, sizeof(why)), 0);
	assert_string_equal(a.recipe, "hello");
	assert_string_equal(a.version, "1.0.0");
	assert_string_equal(a.kernel, "6.1.0-57-amd64");
	assert_string_equal(a.build_id, ID);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.files[0].kind, KB_ARTIFACT_INSTALLED);
	assert_int_equal(a.files[0].size, 111376);
	assert_string_equal(a.files[0].sha256, SHA_A);
	assert_int_equal(a.files[1].kind, KB_ARTIFACT_BUILD);
	assert_string_equal(a.files[1].path, "Module.symvers");
	kb_artifact_release(&a);
}

static void a_failure_names_its_reason_and_log(void **state)
{
	struct kb_artifact a;
	char why[256];

	(void)state;
	assert_int_equal(parse(HEAD "failed build failed (make exited with 2)\nlog " SHA_B
				    " 0 build.log\n",
			       &a, why, sizeof(why)),
			 0);
	assert_string_equal(a.failed, "build failed (make exited with 2)");
	assert_int_equal(a.n, 1);
	assert_int_equal(a.files[0].kind, KB_ARTIFACT_LOG);
	kb_artifact_release(&a);
}

static void what_the_builder_formats_parses_back(void **state)
{
	struct kb_artifact a, b;
	struct kb_buf data = KB_BUF_INIT;
	char why[256];

	(void)state;
	kb_artifact_init(&a);
	a.recipe = strdup("hello");
	a.version = strdup("1.0.0");
	a.kernel = strdup("6.12.117+deb12-amd64");
	snprintf(a.build_id, sizeof(a.build_id), "%s", ID);
	kb_buf_adds(&data, "module bytes");
	assert_int_equal(kb_artifact_add(&a, "lib/modules/6.12.117+deb12-amd64/updates/x.ko.xz",
					 KB_ARTIFACT_INSTALLED, &data),
			 0);
	assert_int_equal(data.len, 0); /* the artifact took the bytes */
	assert_int_equal(kb_artifact_format(&a), 0);
	assert_int_equal(parse(kb_buf_str(&a.text), &b, why, sizeof(why)), 0);
	assert_int_equal(b.n, 1);
	assert_string_equal(b.files[0].path, a.files[0].path);
	assert_string_equal(b.files[0].sha256, a.files[0].sha256);
	assert_int_equal(b.files[0].size, 12);
	kb_artifact_release(&a);
	kb_artifact_release(&b);
	kb_buf_release(&data);
}

/* Each line of a store's answer that is not the format: refused, naming the line. */
static void a_damaged_manifest_names_its_line(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "kbuildd-artifact 2\n", "line 1: expected 'kbuildd-artifact 1'" },
		{ "kbuildd-artifact 1\nversion 1\n", "line 2: expected 'recipe'" },
		{ "kbuildd-artifact 1\nrecipe ../x\n", "line 2: invalid recipe" },
		{ "kbuildd-artifact 1\nrecipe a\nversion 1\nkernel ../../etc\n",
		  "line 4: invalid kernel" },
		{ "kbuildd-artifact 1\nrecipe a\nversion 1\nkernel 6.1\nbuild-id XYZ\n",
		  "line 5: invalid build id" },
		{ HEAD, "line 6: it names no file" },
		{ HEAD "installed " SHA_A " 1 lib/modules/6.1.0-57-amd64/../../../etc/passwd\n",
		  "line 6: 'lib/modules/6.1.0-57-amd64/../../../etc/passwd' is not a path" },
		{ HEAD "installed " SHA_A " 1 lib/modules/6.12/x.ko\n",
		  "line 6: 'lib/modules/6.12/x.ko' is not a path" },
		{ HEAD "installed " SHA_A " 1 /lib/modules/6.1.0-57-amd64/x.ko\n",
		  "is not a path" },
		{ HEAD "build " SHA_B " 0 ../Module.symvers\n", "is not a path" },
		{ HEAD "installed " SHA_A " 99999999999 lib/modules/6.1.0-57-amd64/x.ko\n",
		  "line 6: invalid size" },
		{ HEAD "installed nothex 1 lib/modules/6.1.0-57-amd64/x.ko\n",
		  "line 6: expected 'SHA256 SIZE PATH'" },
		{ HEAD FILE_A FILE_A,
		  "line 7: 'lib/modules/6.1.0-57-amd64/updates/kbuildd/hello.ko' twice" },
		{ HEAD FILE_A "installed", "line 7: the last line does not end" },
		{ HEAD FILE_A "script " SHA_A " 1 x\n",
		  "line 7: expected 'installed, build, log or failed'" },
		/* a failure holds its log only, and a build no log */
		{ HEAD "failed make exited with 2\n" FILE_A,
		  "line 7: 'lib/modules/6.1.0-57-amd64/updates/kbuildd/hello.ko' is not a path" },
		{ HEAD FILE_A "log " SHA_B " 0 build.log\n", "line 7: 'build.log' is not a path" },
		{ HEAD "failed make\texited\n", "line 6: the reason holds a control character" },
		{ HEAD "failed make exited with 2\n", "line 7: it names no file" },
		{ HEAD FILE_A "failed late\n",
		  "line 7: expected 'installed, build, log or failed'" },
	};
	struct kb_artifact a;
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i].text, &a, why, sizeof(why));

		if (r != -KB_E_INPUT || !strstr(why, bad[i].why))
			fail_msg("case %zu: got %d '%s', expected '%s'", i, r, why, bad[i].why);
		kb_artifact_release(&a);
	}
	/* a NUL byte cannot hide a line from the signature's reader */
	kb_artifact_init(&a);
	kb_buf_add(&a.text, HEAD "\0" FILE_A, sizeof(HEAD FILE_A));
	assert_int_equal(kb_artifact_parse(&a, why, sizeof(why)), -KB_E_INPUT);
	kb_artifact_release(&a);
}

/* A throwaway self-signed key pair, as a module signing key is. */
static void make_signer(struct kb_signer *s, const char *cn)
{
	X509 *cert = X509_new();

	memset(s, 0, sizeof(*s));
	s->key = EVP_RSA_gen(2048);
	assert_non_null(s->key);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(cert));
	X509_set_pubkey(cert, s->key);
	assert_true(X509_sign(cert, s->key, EVP_sha256()) > 0);
	s->cert = cert;
	s->md = EVP_sha256();
	snprintf(s->key_path, sizeof(s->key_path), "%s", cn);
}

static void a_signature_holds_only_for_the_text_and_a_trusted_certificate(void **state)
{
	struct kb_signer builder, intruder;
	STACK_OF(X509) *trust = sk_X509_new_null(), *others = sk_X509_new_null();
	struct kb_buf sig = KB_BUF_INIT;
	const char text[] = HEAD FILE_A;
	char who[256], why[256], changed[sizeof(text)];

	(void)state;
	make_signer(&builder, "fleet builder");
	make_signer(&intruder, "intruder");
	sk_X509_push(trust, builder.cert);
	sk_X509_push(others, intruder.cert);
	assert_int_equal(kb_cms_sign(&builder, text, strlen(text), &sig), 0);
	assert_int_equal(kb_cms_verify(text, strlen(text), sig.buf, sig.len, trust, who,
				       sizeof(who), why, sizeof(why)),
			 1);
	assert_string_equal(who, "fleet builder");
	/* one byte of the text changed */
	memcpy(changed, text, sizeof(text));
	changed[20] ^= 1;
	assert_int_equal(kb_cms_verify(changed, strlen(changed), sig.buf, sig.len, trust, who,
				       sizeof(who), why, sizeof(why)),
			 0);
	/* another key's certificate: the signer is not among those trusted */
	assert_int_equal(kb_cms_verify(text, strlen(text), sig.buf, sig.len, others, who,
				       sizeof(who), why, sizeof(why)),
			 0);
	/* not a signature at all */
	assert_int_equal(kb_cms_verify(text, strlen(text), "garbage", 7, trust, who, sizeof(who),
				       why, sizeof(why)),
			 -EBADMSG);
	assert_string_equal(why, "the signature is not a CMS structure");
	sk_X509_free(trust);
	sk_X509_free(others);
	kb_signer_release(&builder);
	kb_signer_release(&intruder);
	kb_buf_release(&sig);
}

static void a_registry_challenge_gives_its_parameters(void **state)
{
	const char *c = "Bearer realm=\"https://auth.example.org/token?x=1,y\",service=\"registry."
			"example.org\",scope=\"repository:fleet/kbuildd:pull\"";
	char *v;

	(void)state;
	v = kb_http_challenge_param(c, "realm");
	assert_string_equal(v, "https://auth.example.org/token?x=1,y");
	free(v);
	v = kb_http_challenge_param(c, "service");
	assert_string_equal(v, "registry.example.org");
	free(v);
	v = kb_http_challenge_param(c, "scope");
	assert_string_equal(v, "repository:fleet/kbuildd:pull");
	free(v);
	assert_null(kb_http_challenge_param(c, "error"));
	assert_null(kb_http_challenge_param("Bearer", "realm"));
	v = kb_http_escape("repository:fleet/kbuildd:pull,push");
	assert_string_equal(v, "repository%3Afleet%2Fkbuildd%3Apull%2Cpush");
	free(v);
}

static void credentials_are_a_token_or_user_and_password(void **state)
{
	struct kb_http h = { 0 };

	(void)state;
	assert_int_equal(kb_http_set_credentials(&h, "fleet:s3cret:pass\n", 18), 0);
	assert_int_equal(h.auth, KB_HTTP_AUTH_BASIC);
	assert_string_equal(h.user, "fleet");
	assert_string_equal(h.password, "s3cret:pass");
	kb_http_release(&h);
	assert_int_equal(kb_http_set_credentials(&h, "ghp_token", 9), 0);
	assert_int_equal(h.auth, KB_HTTP_AUTH_BEARER);
	assert_string_equal(h.token, "ghp_token");
	kb_http_release(&h);
	assert_int_equal(kb_http_set_credentials(&h, "two\nlines", 9), -EINVAL);
	assert_int_equal(kb_http_set_credentials(&h, "\n", 1), -EINVAL);
	kb_http_release(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_manifest_parses_into_its_fields_and_files),
		cmocka_unit_test(a_failure_names_its_reason_and_log),
		cmocka_unit_test(what_the_builder_formats_parses_back),
		cmocka_unit_test(a_damaged_manifest_names_its_line),
		cmocka_unit_test(a_signature_holds_only_for_the_text_and_a_trusted_certificate),
		cmocka_unit_test(a_registry_challenge_gives_its_parameters),
		cmocka_unit_test(credentials_are_a_token_or_user_and_password),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
