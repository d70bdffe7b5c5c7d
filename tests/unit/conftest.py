"""What every unit test shares: mongomock made to take the bulk writes the services send."""

import mongomock


def _accept_sort(add_update):
    """mongomock 4.3's bulk builder predates pymongo 4.11, whose UpdateOne passes `sort` (None
    unless given); drop it so bulk_write works on the fake as on a server."""

    def add(self, selector, doc, *args, sort=None, **kwargs):
        assert sort is None, "mongomock cannot sort a bulk update"
        return add_update(self, selector, doc, *args, **kwargs)

    return add


mongomock.collection.BulkOperationBuilder.add_update = _accept_sort(
    mongomock.collection.BulkOperationBuilder.add_update
)
