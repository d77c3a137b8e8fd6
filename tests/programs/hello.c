/* Compiled by gcc under zmm (cc1, as, collect2 and ld all run with it), then run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
	struct node *next;
	unsigned key;
	char name[24];
};

static int cmp(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	enum { N = 100000 };
	unsigned *keys = malloc(N * sizeof *keys);
	struct node *head = NULL;
	unsigned seed = 7, sum = 0;
	if (!keys)
		return 1;
	for (int i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		keys[i] = seed >> 8;
		struct node *n = malloc(sizeof *n);
		if (!n)
			return 1;
		n->key = keys[i];
		snprintf(n->name, sizeof n->name, "node-%d", i);
		n->next = head;
		head = n;
	}
	qsort(keys, N, sizeof *keys, cmp);
	while (head) {
		struct node *next = head->next;
		sum += head->key ^ (unsigned)strlen(head->name);
		free(head);
		head = next;
	}
	printf("hello from gcc: min %u max %u median %u sum %u\n", keys[0], keys[N - 1], keys[N / 2], sum);
	free(keys);
	return 0;
}
