"""`verify`: the data flow is the layout —

    archive.rows()  →  producer  →  bounded queue  →  workers (checkers)  →  ledger  →  checkpoint  →  report

`findings` names the categories; `ledger` turns out-of-order results into an in-order
watermark so that the checkpoint never claims a row that is not fully checked.
"""
