#pragma once

/* Intrusive doubly-linked lists, in the style of systemd's list.h. */

#define LIST_FIELDS(t, name) t *name##_next, *name##_prev

#define LIST_PREPEND(name, head, item) \
        do { \
                __typeof__(*(head)) **_head = &(head), *_item = (item); \
                if ((_item->name##_next = *_head)) \
                        _item->name##_next->name##_prev = _item; \
                _item->name##_prev = NULL; \
                *_head = _item; \
        } while (0)

#define LIST_REMOVE(name, head, item) \
        do { \
                __typeof__(*(head)) **_head = &(head), *_item = (item); \
                if (_item->name##_next) \
                        _item->name##_next->name##_prev = _item->name##_prev; \
                if (_item->name##_prev) \
                        _item->name##_prev->name##_next = _item->name##_next; \
                else \
                        *_head = _item->name##_next; \
                _item->name##_next = _item->name##_prev = NULL; \
        } while (0)

#define LIST_FOREACH(name, i, head) for (__typeof__(*(head)) *i = (head); i; i = i->name##_next)

#define LIST_FOREACH_SAFE(name, i, n, head) \
        for (__typeof__(*(head)) *n, *i = (head); i && ((n = i->name##_next), 1); i = n)

/* Inserts item before the first element for which cmp(item, element) < 0 (keeps a sorted list). */
#define LIST_INSERT_SORTED(name, head, item, cmp) \
        do { \
                __typeof__(*(head)) **_h = &(head), *_it = (item), *_prev = NULL; \
                __typeof__(*(head)) *_cur = *_h; \
                while (_cur && cmp(_it, _cur) >= 0) { \
                        _prev = _cur; \
                        _cur = _cur->name##_next; \
                } \
                _it->name##_prev = _prev; \
                _it->name##_next = _cur; \
                if (_cur) \
                        _cur->name##_prev = _it; \
                if (_prev) \
                        _prev->name##_next = _it; \
                else \
                        *_h = _it; \
        } while (0)
