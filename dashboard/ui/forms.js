/* placeholder: replaced by the UI work */
