{
    "patcher": {
        "title": "gesturegan",
        "fileversion": 1,
        "appversion": {
            "major": 8,
            "minor": 5,
            "revision": 5,
            "architecture": "x64",
            "modernui": 1
        },
        "classnamespace": "box",
        "rect": [
            60.0,
            80.0,
            1040.0,
            760.0
        ],
        "bglocked": 0,
        "openinpresentation": 0,
        "default_fontsize": 12.0,
        "default_fontface": 0,
        "default_fontname": "Arial",
        "gridonopen": 1,
        "gridsize": [
            15.0,
            15.0
        ],
        "gridsnaponopen": 1,
        "objectsnaponopen": 1,
        "statusbarvisible": 2,
        "toolbarvisible": 1,
        "lefttoolbarpinned": 0,
        "toptoolbarpinned": 0,
        "righttoolbarpinned": 0,
        "bottomtoolbarpinned": 0,
        "toolbars_unpinned_last_save": 0,
        "tallnewobj": 0,
        "boxanimatetime": 200,
        "enablehscroll": 1,
        "enablevscroll": 1,
        "devicewidth": 0.0,
        "description": "",
        "digest": "",
        "tags": "",
        "style": "",
        "subpatcher_template": "",
        "assistshowspatchername": 0,
        "boxes": [
            {
                "box": {
                    "id": "obj-1",
                    "maxclass": "comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [
                        10,
                        10,
                        300,
                        30
                    ],
                    "text": "gesturegan",
                    "fontsize": 20.0,
                    "outlettype": []
                }
            },
            {
                "box": {
                    "id": "obj-2",
                    "maxclass": "comment",
                    "numinlets": 1,
                    "numoutlets": 0,
                    "patching_rect": [
                        10,
                        44,
                        600,
                        20
                    ],
                    "text": "Generated sound gestures, played live from a model the server runs. Open a tab.",
                    "outlettype": []
                }
            },
            {
                "box": {
                    "id": "obj-3",
                    "maxclass": "newobj",
                    "numinlets": 0,
                    "numoutlets": 0,
                    "patching_rect": [
                        10,
                        80,
                        80,
                        22
                    ],
                    "patcher": {
                        "fileversion": 1,
                        "appversion": {
                            "major": 8,
                            "minor": 5,
                            "revision": 5,
                            "architecture": "x64",
                            "modernui": 1
                        },
                        "classnamespace": "box",
                        "rect": [
                            0.0,
                            26.0,
                            1040.0,
                            780.0
                        ],
                        "bglocked": 0,
                        "openinpresentation": 0,
                        "default_fontsize": 12.0,
                        "default_fontface": 0,
                        "default_fontname": "Arial",
                        "gridonopen": 1,
                        "gridsize": [
                            15.0,
                            15.0
                        ],
                        "gridsnaponopen": 1,
                        "objectsnaponopen": 1,
                        "statusbarvisible": 2,
                        "toolbarvisible": 1,
                        "lefttoolbarpinned": 0,
                        "toptoolbarpinned": 0,
                        "righttoolbarpinned": 0,
                        "bottomtoolbarpinned": 0,
                        "toolbars_unpinned_last_save": 0,
                        "tallnewobj": 0,
                        "boxanimatetime": 200,
                        "enablehscroll": 1,
                        "enablevscroll": 1,
                        "devicewidth": 0.0,
                        "description": "",
                        "digest": "",
                        "tags": "",
                        "style": "",
                        "subpatcher_template": "",
                        "assistshowspatchername": 0,
                        "boxes": [
                            {
                                "box": {
                                    "id": "obj-1",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        10,
                                        700,
                                        20
                                    ],
                                    "text": "The control surface. Start `gesturegan serve` in a terminal, then play.",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-2",
                                    "maxclass": "bpatcher",
                                    "numinlets": 0,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        40,
                                        1000,
                                        700
                                    ],
                                    "name": "gesturegan.maxpat",
                                    "bgmode": 0,
                                    "border": 0,
                                    "clickthrough": 0,
                                    "enablehscroll": 0,
                                    "enablevscroll": 0,
                                    "lockeddragscroll": 0,
                                    "viewvisibility": 1,
                                    "outlettype": [],
                                    "offset": [
                                        0.0,
                                        0.0
                                    ]
                                }
                            }
                        ],
                        "lines": [],
                        "dependency_cache": [],
                        "autosave": 0,
                        "showontab": 1
                    },
                    "text": "p basic",
                    "outlettype": []
                }
            },
            {
                "box": {
                    "id": "obj-4",
                    "maxclass": "newobj",
                    "numinlets": 0,
                    "numoutlets": 0,
                    "patching_rect": [
                        100,
                        80,
                        80,
                        22
                    ],
                    "patcher": {
                        "fileversion": 1,
                        "appversion": {
                            "major": 8,
                            "minor": 5,
                            "revision": 5,
                            "architecture": "x64",
                            "modernui": 1
                        },
                        "classnamespace": "box",
                        "rect": [
                            0.0,
                            26.0,
                            800.0,
                            560.0
                        ],
                        "bglocked": 0,
                        "openinpresentation": 0,
                        "default_fontsize": 12.0,
                        "default_fontface": 0,
                        "default_fontname": "Arial",
                        "gridonopen": 1,
                        "gridsize": [
                            15.0,
                            15.0
                        ],
                        "gridsnaponopen": 1,
                        "objectsnaponopen": 1,
                        "statusbarvisible": 2,
                        "toolbarvisible": 1,
                        "lefttoolbarpinned": 0,
                        "toptoolbarpinned": 0,
                        "righttoolbarpinned": 0,
                        "bottomtoolbarpinned": 0,
                        "toolbars_unpinned_last_save": 0,
                        "tallnewobj": 0,
                        "boxanimatetime": 200,
                        "enablehscroll": 1,
                        "enablevscroll": 1,
                        "devicewidth": 0.0,
                        "description": "",
                        "digest": "",
                        "tags": "",
                        "style": "",
                        "subpatcher_template": "",
                        "assistshowspatchername": 0,
                        "boxes": [
                            {
                                "box": {
                                    "id": "obj-1",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        10,
                                        700,
                                        20
                                    ],
                                    "text": "Render to files and play them from a buffer~ (serve --render-dir DIR).",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-2",
                                    "maxclass": "bpatcher",
                                    "numinlets": 0,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        40,
                                        760,
                                        480
                                    ],
                                    "name": "gesturegan.buffer.maxpat",
                                    "bgmode": 0,
                                    "border": 0,
                                    "clickthrough": 0,
                                    "enablehscroll": 0,
                                    "enablevscroll": 0,
                                    "lockeddragscroll": 0,
                                    "viewvisibility": 1,
                                    "outlettype": [],
                                    "offset": [
                                        0.0,
                                        0.0
                                    ]
                                }
                            }
                        ],
                        "lines": [],
                        "dependency_cache": [],
                        "autosave": 0,
                        "showontab": 1
                    },
                    "text": "p buffer",
                    "outlettype": []
                }
            },
            {
                "box": {
                    "id": "obj-5",
                    "maxclass": "newobj",
                    "numinlets": 0,
                    "numoutlets": 0,
                    "patching_rect": [
                        190,
                        80,
                        80,
                        22
                    ],
                    "patcher": {
                        "fileversion": 1,
                        "appversion": {
                            "major": 8,
                            "minor": 5,
                            "revision": 5,
                            "architecture": "x64",
                            "modernui": 1
                        },
                        "classnamespace": "box",
                        "rect": [
                            0.0,
                            26.0,
                            900.0,
                            600.0
                        ],
                        "bglocked": 0,
                        "openinpresentation": 0,
                        "default_fontsize": 12.0,
                        "default_fontface": 0,
                        "default_fontname": "Arial",
                        "gridonopen": 1,
                        "gridsize": [
                            15.0,
                            15.0
                        ],
                        "gridsnaponopen": 1,
                        "objectsnaponopen": 1,
                        "statusbarvisible": 2,
                        "toolbarvisible": 1,
                        "lefttoolbarpinned": 0,
                        "toptoolbarpinned": 0,
                        "righttoolbarpinned": 0,
                        "bottomtoolbarpinned": 0,
                        "toolbars_unpinned_last_save": 0,
                        "tallnewobj": 0,
                        "boxanimatetime": 200,
                        "enablehscroll": 1,
                        "enablevscroll": 1,
                        "devicewidth": 0.0,
                        "description": "",
                        "digest": "",
                        "tags": "",
                        "style": "",
                        "subpatcher_template": "",
                        "assistshowspatchername": 0,
                        "boxes": [
                            {
                                "box": {
                                    "id": "obj-1",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        10,
                                        700,
                                        20
                                    ],
                                    "text": "A MIDI controller mapped through Max.",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-2",
                                    "maxclass": "bpatcher",
                                    "numinlets": 0,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        40,
                                        860,
                                        520
                                    ],
                                    "name": "gesturegan.midi.maxpat",
                                    "bgmode": 0,
                                    "border": 0,
                                    "clickthrough": 0,
                                    "enablehscroll": 0,
                                    "enablevscroll": 0,
                                    "lockeddragscroll": 0,
                                    "viewvisibility": 1,
                                    "outlettype": [],
                                    "offset": [
                                        0.0,
                                        0.0
                                    ]
                                }
                            }
                        ],
                        "lines": [],
                        "dependency_cache": [],
                        "autosave": 0,
                        "showontab": 1
                    },
                    "text": "p midi",
                    "outlettype": []
                }
            },
            {
                "box": {
                    "id": "obj-6",
                    "maxclass": "newobj",
                    "numinlets": 0,
                    "numoutlets": 0,
                    "patching_rect": [
                        280,
                        80,
                        90,
                        22
                    ],
                    "patcher": {
                        "fileversion": 1,
                        "appversion": {
                            "major": 8,
                            "minor": 5,
                            "revision": 5,
                            "architecture": "x64",
                            "modernui": 1
                        },
                        "classnamespace": "box",
                        "rect": [
                            0.0,
                            26.0,
                            1040.0,
                            760.0
                        ],
                        "bglocked": 0,
                        "openinpresentation": 0,
                        "default_fontsize": 12.0,
                        "default_fontface": 0,
                        "default_fontname": "Arial",
                        "gridonopen": 1,
                        "gridsize": [
                            15.0,
                            15.0
                        ],
                        "gridsnaponopen": 1,
                        "objectsnaponopen": 1,
                        "statusbarvisible": 2,
                        "toolbarvisible": 1,
                        "lefttoolbarpinned": 0,
                        "toptoolbarpinned": 0,
                        "righttoolbarpinned": 0,
                        "bottomtoolbarpinned": 0,
                        "toolbars_unpinned_last_save": 0,
                        "tallnewobj": 0,
                        "boxanimatetime": 200,
                        "enablehscroll": 1,
                        "enablevscroll": 1,
                        "devicewidth": 0.0,
                        "description": "",
                        "digest": "",
                        "tags": "",
                        "style": "",
                        "subpatcher_template": "",
                        "assistshowspatchername": 0,
                        "boxes": [
                            {
                                "box": {
                                    "id": "obj-1",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        10,
                                        700,
                                        20
                                    ],
                                    "text": "Messages the server accepts (from `gesturegan osc-spec`):",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-2",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        32,
                                        1000,
                                        20
                                    ],
                                    "text": "/trigger [category] [velocity] [position] [seed]  : play one gesture now (or at the bundle's timetag)",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-3",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        54,
                                        1000,
                                        20
                                    ],
                                    "text": "/morph x y  : XY pad: trigger (0,0), trigger_continuous (1,0), continuous_variation (0,1), continuous_repetition (1,1)",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-4",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        76,
                                        1000,
                                        20
                                    ],
                                    "text": "/morph/weights weight...  : explicit category weights, one float >= 0 per category",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-5",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        98,
                                        1000,
                                        20
                                    ],
                                    "text": "/position position  : default position of new gestures across the speakers (0..1)",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-6",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        120,
                                        1000,
                                        20
                                    ],
                                    "text": "/latent/seed seed  : new base latent",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-7",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        142,
                                        1000,
                                        20
                                    ],
                                    "text": "/latent/jitter amount  : per-trigger latent noise (0 = the same gesture each time)",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-8",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        164,
                                        1000,
                                        20
                                    ],
                                    "text": "/latent/walk speed  : random walk of the latent, radians per second (0 = still)",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-9",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        186,
                                        1000,
                                        20
                                    ],
                                    "text": "/stream/start  : the engine triggers gestures by itself; replies /stream",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-10",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        208,
                                        1000,
                                        20
                                    ],
                                    "text": "/stream/stop  : stop stream mode (sounding gestures finish); replies /stream",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-11",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        230,
                                        1000,
                                        20
                                    ],
                                    "text": "/stream/density rate  : stream events per second",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-12",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        252,
                                        1000,
                                        20
                                    ],
                                    "text": "/stop [voice]  : fade a voice (or all) out",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-13",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        274,
                                        1000,
                                        20
                                    ],
                                    "text": "/panic  : silence everything at once: voices, scheduled plays and stream mode",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-14",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        296,
                                        1000,
                                        20
                                    ],
                                    "text": "/rate rate  : playback rate of sounding and new gestures (1 = as generated; MIDI pitch bend)",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-15",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        318,
                                        1000,
                                        20
                                    ],
                                    "text": "/gain db  : master gain in dB",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-16",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        340,
                                        1000,
                                        20
                                    ],
                                    "text": "/render category [count]  : write gestures as WAV files into the render folder; replies /rendered path",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-17",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        362,
                                        1000,
                                        20
                                    ],
                                    "text": "/model/load name  : swap the model without stopping the sound",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-18",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        384,
                                        1000,
                                        20
                                    ],
                                    "text": "/model/list  : reply /model/list with the model files in the models folder",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-19",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        406,
                                        1000,
                                        20
                                    ],
                                    "text": "/model/info  : reply /model/info with the contract",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-20",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        428,
                                        1000,
                                        20
                                    ],
                                    "text": "/status  : reply /status voices triggers misses errors late xruns",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-21",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        450,
                                        1000,
                                        20
                                    ],
                                    "text": "/like name [amount]  : later triggers play new takes of a real sound (the model's encoder places it); replies /like",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-22",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        472,
                                        1000,
                                        20
                                    ],
                                    "text": "/like/off  : back to the seeded latent (triggers play the model's own gestures)",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-23",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        494,
                                        1000,
                                        20
                                    ],
                                    "text": "/like/list  : reply /like/list with the sound files /like can pick",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-24",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        528,
                                        700,
                                        20
                                    ],
                                    "text": "Replies (to udpreceive 9001):",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-25",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        550,
                                        1000,
                                        20
                                    ],
                                    "text": "/voice/start id category  : a gesture began (category or 'mix')",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-26",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        572,
                                        1000,
                                        20
                                    ],
                                    "text": "/voice/end id  : a gesture finished, was stopped or stolen",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-27",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        594,
                                        1000,
                                        20
                                    ],
                                    "text": "/status voices triggers misses errors late xruns  : answer to /status: sounding voices, triggers, pool misses, refused messages, late events, audio xruns",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-28",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        616,
                                        1000,
                                        20
                                    ],
                                    "text": "/model/info family rate samples latent categories...  : the playing model's contract (answer to /model/info and to a /model/load that worked)",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-29",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        638,
                                        1000,
                                        20
                                    ],
                                    "text": "/model/list names...  : model files /model/load can open",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-30",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        660,
                                        1000,
                                        20
                                    ],
                                    "text": "/rendered path  : a WAV file /render wrote (absolute path)",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-31",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        682,
                                        1000,
                                        20
                                    ],
                                    "text": "/like name category amount  : the sound later triggers vary, the category the model hears it as, and the amount ('' after /like/off)",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-32",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        704,
                                        1000,
                                        20
                                    ],
                                    "text": "/like/list names...  : sound files /like can pick",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-33",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        726,
                                        1000,
                                        20
                                    ],
                                    "text": "/stream on density  : stream mode's state after /stream/start, /stream/stop and /panic (which turns it off)",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-34",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        748,
                                        1000,
                                        20
                                    ],
                                    "text": "/error address reason  : a refused message and why (rate-limited)",
                                    "outlettype": []
                                }
                            },
                            {
                                "box": {
                                    "id": "obj-35",
                                    "maxclass": "comment",
                                    "numinlets": 1,
                                    "numoutlets": 0,
                                    "patching_rect": [
                                        10,
                                        770,
                                        1000,
                                        20
                                    ],
                                    "text": "/audio/state state  : the audio server went away ('lost': the engine goes on and reconnects) or came back ('running')",
                                    "outlettype": []
                                }
                            }
                        ],
                        "lines": [],
                        "dependency_cache": [],
                        "autosave": 0,
                        "showontab": 1
                    },
                    "text": "p messages",
                    "outlettype": []
                }
            }
        ],
        "lines": [],
        "dependency_cache": [],
        "autosave": 0
    }
}
